/**
 * `gold --watch --metrics-port`: refresh durations, open alarms, notification outcomes and the
 * health of the refresh loop, on /metrics and /healthz.
 *
 * Healthy means: the last refresh did not fail, none has been running longer than
 * `stuckAfterMs` (ten intervals, at least 2 min: a cycle took 7.5 s at the 5,200-device soak),
 * and the loop finished one within an interval plus that. Waiting for the tables to exist is
 * healthy (phase "waiting"): the process does what it was started to do, and an orchestrator
 * restarting it would not help.
 *
 * `smarttech_alarms_open{rule,severity}` is re-read after each refresh that changed `alarms`
 * (sql/metrics/alarms_open.sql over the table's snapshot), on a small DuckDB of its own.
 */
import { errorText } from "../config.ts";
import { loadSnapshot } from "../delta/snapshot.ts";
import { snapshotScanSql } from "../delta/scan.ts";
import { type DuckDB, openDuckDB } from "../duckdb/engine.ts";
import { enableLocation } from "../duckdb/s3.ts";
import { evaluate, type HealthReport, secondsSince } from "../metrics/health.ts";
import {
  bucketsBetween,
  Counter,
  createRegistry,
  Gauge,
  Histogram,
  type Registry,
} from "../metrics/registry.ts";
import { type MetricsServer, startMetricsServer } from "../metrics/server.ts";
import { loadSql } from "../query/sql_files.ts";
import type { GoldTableResult } from "./refresh.ts";
import { goldTablePath } from "./tables.ts";

/** Incidents versions whose data time is remembered for the alarm latency (a few refreshes' worth). */
const DATA_TIMES_KEPT = 256;

/** What a notification attempt came to (smarttech_notifications_total{outcome}). */
export type NotificationOutcome = "delivered" | "rejected" | "failed";

export class GoldMonitor {
  readonly registry: Registry = createRegistry();
  readonly server: MetricsServer;
  readonly stuckAfterMs: number;
  readonly #refresh: Histogram<"table">;
  readonly #cycle: Histogram;
  readonly #refreshes: Counter<"outcome">;
  readonly #alarms: Gauge<"rule" | "severity">;
  readonly #notifications: Counter<"outcome">;
  readonly #alarmLatency: Histogram;
  /** gold/incidents version → event time (ms) of the newest reading the refresh making it read. */
  readonly #dataTimes = new Map<number, number>();
  readonly #started = performance.now();
  #phase = "starting";
  #runningSince: number | null = null;
  #lastEndedAt: number | null = null;
  #lastError: string | null = null;
  #db: Promise<DuckDB> | null = null;

  constructor(
    address: { host: string; port: number },
    readonly opts: { lakehouse: string; intervalMs: number },
  ) {
    const registers = [this.registry];
    this.stuckAfterMs = Math.max(10 * opts.intervalMs, 120_000);
    this.#refresh = new Histogram({
      name: "smarttech_gold_refresh_duration_seconds",
      help: "Seconds to refresh one gold table, per refresh that changed it",
      labelNames: ["table"],
      buckets: bucketsBetween(0.01, 60),
      registers,
    });
    this.#cycle = new Histogram({
      name: "smarttech_gold_cycle_duration_seconds",
      help: "Seconds of one whole gold refresh (every table), changed or not",
      buckets: bucketsBetween(0.01, 120),
      registers,
    });
    this.#refreshes = new Counter({
      name: "smarttech_gold_refreshes_total",
      help: "Gold refreshes by outcome: changed (silver had new data), unchanged, failed",
      labelNames: ["outcome"],
      registers,
    });
    this.#alarms = new Gauge({
      name: "smarttech_alarms_open",
      help: "Open alarm episodes (gold alarms with ended_at null), by rule and severity",
      labelNames: ["rule", "severity"],
      registers,
    });
    this.#notifications = new Counter({
      name: "smarttech_notifications_total",
      help: "Webhook attempts by outcome: delivered (2xx), rejected (4xx, not retried), " +
        "failed (5xx, 408, 429 or network error; retried with backoff)",
      labelNames: ["outcome"],
      registers,
    });
    this.#alarmLatency = new Histogram({
      name: "smarttech_alarm_latency_seconds",
      help: "Seconds from the event time of the newest reading read by the refresh that raised " +
        "an incident event (opened, escalated, reopened) to that event's webhook being answered 2xx",
      buckets: [...bucketsBetween(0.125, 64), 300, 3600],
      registers,
    });
    for (const outcome of ["delivered", "rejected", "failed"]) {
      this.#notifications.inc({ outcome }, 0);
    }
    this.server = startMetricsServer({
      ...address,
      registry: this.registry,
      health: () => this.health(),
    });
  }

  /** The loop waits for the lakehouse or silver to exist. */
  waiting(what: string): void {
    this.#phase = `waiting for ${what}`;
  }

  refreshStarted(): void {
    this.#phase = "refreshing";
    this.#runningSince = performance.now();
  }

  /** A refresh finished: durations, outcome, and open alarms when `alarms` changed. */
  async refreshed(results: GoldTableResult[]): Promise<void> {
    const changed = results.filter((r) => r.mode !== "unchanged");
    for (const r of changed) this.#refresh.observe({ table: r.table }, r.seconds);
    this.#cycle.observe(results.reduce((s, r) => s + r.seconds, 0));
    this.#refreshes.inc({ outcome: changed.length > 0 ? "changed" : "unchanged" });
    const alarms = results.find((r) => r.table === "alarms");
    const firstCount = this.#lastEndedAt === null;
    this.#ended(null);
    if (alarms && (alarms.mode !== "unchanged" || firstCount)) {
      try {
        await this.#countOpenAlarms();
      } catch (err) {
        this.#lastError = `counting open alarms failed: ${errorText(err)}`;
      }
    }
  }

  /**
   * One table committed (refreshGold's onTable): for incidents, remembers the event time of the
   * newest reading it read, before the notifier (poked now) can deliver its events.
   */
  tableRefreshed(r: GoldTableResult): void {
    if (r.table !== "incidents" || r.mode === "unchanged" || r.newestReadingMs === null) return;
    this.#dataTimes.set(r.version, r.newestReadingMs);
    for (const v of this.#dataTimes.keys()) {
      if (this.#dataTimes.size <= DATA_TIMES_KEPT) break;
      this.#dataTimes.delete(v);
    }
  }

  refreshFailed(err: unknown): void {
    this.#refreshes.inc({ outcome: "failed" });
    this.#ended(errorText(err));
  }

  /**
   * One webhook attempt's outcome (Notifier's onAttempt). A delivered event that raises an alarm
   * (opened, escalated, reopened; not cleared) observes smarttech_alarm_latency_seconds: from the
   * event time of the newest reading its refresh read — for live data the reading that completed
   * the condition is among those, within one refresh's spread — to now.
   */
  notification(
    outcome: NotificationOutcome,
    event?: { event: string; incidents_version: number },
  ): void {
    this.#notifications.inc({ outcome });
    if (outcome !== "delivered" || !event || event.event === "cleared") return;
    const dataTime = this.#dataTimes.get(event.incidents_version);
    if (dataTime !== undefined) {
      this.#alarmLatency.observe(Math.max(0, (Date.now() - dataTime) / 1000));
    }
  }

  #ended(error: string | null): void {
    this.#phase = "watching";
    this.#runningSince = null;
    this.#lastEndedAt = performance.now();
    this.#lastError = error;
  }

  async #countOpenAlarms(): Promise<void> {
    const path = goldTablePath(this.opts.lakehouse, "alarms");
    const snap = await loadSnapshot(path, { tombstones: false });
    this.#db ??= openDuckDB({ delta: false, threads: 1, memoryLimit: "64MB" });
    const db = await this.#db;
    await enableLocation(db.conn, path);
    const sql = await loadSql("metrics/alarms_open.sql", {
      alarms: `(${snapshotScanSql(snap)})`,
    });
    const rows = (await db.conn.runAndReadAll(sql)).getRows();
    this.#alarms.reset();
    for (const [rule, severity, n] of rows) {
      this.#alarms.set({ rule: String(rule), severity: String(severity) }, Number(n));
    }
  }

  health(): HealthReport {
    const now = performance.now();
    const details = {
      phase: this.#phase,
      lastRefreshAgeSeconds: this.#lastEndedAt === null ? null : secondsSince(this.#lastEndedAt),
    };
    return evaluate([{
      name: "refresh",
      check: () => {
        if (this.#lastError) return `last refresh failed: ${this.#lastError}`;
        if (this.#runningSince !== null && now - this.#runningSince > this.stuckAfterMs) {
          return `a refresh has been running for ${secondsSince(this.#runningSince)} s ` +
            `(limit ${this.stuckAfterMs / 1000} s)`;
        }
        const since = this.#lastEndedAt ?? this.#started;
        if (
          this.#runningSince === null && !this.#phase.startsWith("waiting") &&
          now - since > this.opts.intervalMs + this.stuckAfterMs
        ) return `no refresh for ${secondsSince(since)} s`;
        return null;
      },
    }], details);
  }

  async close(): Promise<void> {
    await this.server.close();
    if (this.#db) (await this.#db).close();
  }
}
