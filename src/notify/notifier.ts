/**
 * Delivers incident events (events.ts) to webhooks, at least once, beside a running gold.
 *
 * ```
 *  gold refresh ──commit──▶ gold/incidents v0 … vN          (poke(): "a new version may exist")
 *                                  │ walked one version at a time, per endpoint
 *                                  ▼
 *     diffIncidents(v, v+1) ──POST, retry with backoff──▶ endpoint
 *                                  │ all events of v+1 answered
 *                                  ▼
 *  gold/notifications  ◀─commit─ rows (one per event: delivered or rejected)
 *                                 + txn(appId = "notify-<endpoint id>", version = v+1)
 * ```
 *
 * Invariant: an endpoint's txn version in gold/notifications is the incidents version up to
 * which every event was answered, committed with the rows of those events. Events are a pure
 * function of two consecutive incidents versions (Delta versions never change), so after a
 * crash the walk restarts at that position and re-sends exactly the events whose commit was
 * lost, with the same ids: nothing is lost, and a duplicate always carries the same
 * Idempotency-Key. The outbox is thus gold/incidents' own history plus that position, both in
 * the lakehouse, not in process memory.
 *
 * A dead endpoint never holds up gold: each endpoint has its own loop, gold only pokes it, and
 * memory stays bounded (one step of events at a time, a few incidents versions cached). Events
 * retry with exponential backoff for as long as the endpoint answers 5xx/408/429 or not at all;
 * any other 4xx is a permanent rejection, logged and recorded, and the walk goes on.
 * Positions are committed when a step had events, every STEPS_PER_COMMIT steps, and on stop —
 * not once per gold refresh.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { setTimeout as sleep } from "node:timers/promises";
import { commit } from "../delta/commit.ts";
import { TableNotFoundError } from "../delta/errors.ts";
import type { TableSchema } from "../delta/schema.ts";
import { loadSnapshot, type Snapshot } from "../delta/snapshot.ts";
import { createTable, releaseStagingDirectories, writeDataFiles } from "../delta/table.ts";
import { type DuckDB, openDuckDB, sqlString } from "../duckdb/engine.ts";
import { goldTablePath } from "../gold/tables.ts";
import { snapshotScanSql } from "../delta/scan.ts";
import { backoffDelay, retrying } from "../retry.ts";
import { type Endpoint, postEvent } from "./endpoint.ts";
import { diffIncidents, type IncidentEvent, type IncidentRow } from "./events.ts";

/** A walk with no events still records its position this often (bounds the walk after a restart). */
const STEPS_PER_COMMIT = 100;
/** Incidents versions kept in memory (each endpoint needs its current and next). */
const VERSIONS_CACHED = 8;

/** gold/notifications: one row per event answered by an endpoint. */
export const NOTIFICATIONS_SCHEMA: TableSchema = {
  fields: [
    { name: "event_id", type: "string", nullable: false },
    { name: "event", type: "string", nullable: false },
    { name: "incident_id", type: "string", nullable: false },
    { name: "severity", type: "string", nullable: true },
    { name: "endpoint", type: "string", nullable: false },
    { name: "incidents_version", type: "long", nullable: false },
    { name: "delivered_at", type: "timestamp", nullable: false },
    { name: "attempts", type: "long", nullable: false },
    { name: "status", type: "string", nullable: false },
  ],
};

/** The txn appId holding an endpoint's delivery position in gold/notifications. */
export function notifyAppId(endpoint: Endpoint): string {
  return `notify-${endpoint.id}`;
}

/** Options of Notifier.start. */
export interface NotifierOptions {
  lakehouse: string;
  endpoints: Endpoint[];
  /** Base URL of the dashboard, for each event's link. */
  dashboardUrl: string;
  /** HMAC-SHA256 key of the X-SmartTech-Signature header (none: unsigned). */
  secret?: string;
  /** First retry delay, doubled after each failure up to retryMaxMs (default 1 s, 60 s). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** One POST's timeout (default 10 s). */
  timeoutMs?: number;
  /** Check for new incidents versions this often even without a poke (default 5 s). */
  pollMs?: number;
  log?: (line: string) => void;
  /** Told each POST's outcome (metrics): failed ones are retried, rejected ones are not. */
  onAttempt?: (outcome: "delivered" | "rejected" | "failed", event: IncidentEvent) => void;
}

/** An event's outcome at one endpoint (a row of gold/notifications). */
interface Answered {
  event: IncidentEvent;
  attempts: number;
  status: string;
  at: number;
}

/** gold/incidents rows at one table version, by incident id. */
export async function readIncidentsAt(
  conn: DuckDBConnection,
  path: string,
  version: number,
): Promise<Map<string, IncidentRow>> {
  const snap = await loadSnapshot(path, { version, tombstones: false });
  // Rows by column name: a column added to or moved in the SELECT cannot shift the others.
  const rows = (await conn.runAndReadAll(
    `SELECT incident_id, severity, device_id, building, floor::INTEGER AS floor, type, rules,
       episodes::DOUBLE AS episodes, epoch_ms(started_at)::DOUBLE AS started_at,
       epoch_ms(ended_at)::DOUBLE AS ended_at, peak_value, peak_unit, threshold,
       threshold_unit, threshold_rule
     FROM (${snapshotScanSql(snap)})`,
  )).getRowObjects();
  const out = new Map<string, IncidentRow>();
  const s = (v: unknown) => v === null ? null : String(v);
  const n = (v: unknown) => v === null ? null : Number(v);
  for (const r of rows) {
    out.set(String(r.incident_id), {
      incident_id: String(r.incident_id),
      severity: String(r.severity),
      device_id: s(r.device_id),
      building: s(r.building),
      floor: n(r.floor),
      type: s(r.type),
      rules: String(r.rules ?? ""),
      episodes: Number(r.episodes),
      started_at: Number(r.started_at),
      ended_at: n(r.ended_at),
      peak_value: n(r.peak_value),
      peak_unit: s(r.peak_unit),
      threshold: n(r.threshold),
      threshold_unit: s(r.threshold_unit),
      threshold_rule: s(r.threshold_rule),
    });
  }
  return out;
}

/** gold/incidents by version, read through one DuckDB connection, one query at a time. */
class IncidentVersions {
  #cache = new Map<number, Promise<Map<string, IncidentRow>>>();
  #queue: Promise<unknown> = Promise.resolve();
  constructor(readonly path: string, readonly conn: DuckDBConnection) {}

  /** Latest version, or null when the table does not exist yet. */
  async latest(): Promise<number | null> {
    try {
      return (await loadSnapshot(this.path, { tombstones: false })).version;
    } catch (err) {
      if (err instanceof TableNotFoundError) return null;
      throw err;
    }
  }

  /** Rows at a version by id; version -1 is the empty table before it was created. */
  at(version: number): Promise<Map<string, IncidentRow>> {
    let hit = this.#cache.get(version);
    if (!hit) {
      hit = version < 0
        ? Promise.resolve(new Map())
        : this.#serial(() => readIncidentsAt(this.conn, this.path, version));
      hit.catch(() => this.#cache.delete(version));
      this.#cache.set(version, hit);
      while (this.#cache.size > VERSIONS_CACHED) {
        this.#cache.delete(Math.min(...this.#cache.keys()));
      }
    }
    return hit;
  }

  #serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(f, f);
    this.#queue = next.catch(() => {});
    return next;
  }
}

/** Per-endpoint progress, for drain(). */
interface Progress {
  position: number;
}

/**
 * The notification loops of one gold process.
 *
 * @example
 * ```ts
 * const n = await Notifier.start({ lakehouse, endpoints: [await parseEndpoint(url)], dashboardUrl });
 * // after each gold refresh:
 * n.poke();
 * // at exit:
 * await n.stop();
 * ```
 */
export class Notifier {
  #abort = new AbortController();
  #wake: (() => void)[] = [];
  /** Per endpoint: poked since its loop last read the latest incidents version. */
  #poked = new Map<string, boolean>();
  #loops: Promise<void>[] = [];
  #progress = new Map<string, Progress>();
  #commits: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly opts: NotifierOptions,
    readonly db: DuckDB,
    /** Writes the delivery log; reads of gold/incidents use the other connection. */
    readonly writer: DuckDBConnection,
    readonly versions: IncidentVersions,
    readonly outboxPath: string,
  ) {}

  /** Opens the delivery log (gold/notifications) and starts one loop per endpoint. */
  static async start(opts: NotifierOptions): Promise<Notifier> {
    const outboxPath = goldTablePath(opts.lakehouse, "notifications");
    await createTable(outboxPath, {
      schema: NOTIFICATIONS_SCHEMA,
      partitionColumns: [],
      name: "gold_notifications",
      description: "Incident events answered by each notification endpoint (src/notify)",
      properties: { "delta.checkpointInterval": "10" },
    });
    const db = await openDuckDB({ delta: false, threads: 1, memoryLimit: "256MB" });
    const versions = new IncidentVersions(goldTablePath(opts.lakehouse, "incidents"), db.conn);
    const n = new Notifier(opts, db, await db.connect(), versions, outboxPath);
    for (const ep of opts.endpoints) {
      const progress: Progress = { position: Number.NaN };
      n.#progress.set(ep.id, progress);
      n.#poked.set(ep.id, false);
      n.#loops.push(
        n.#run(ep, progress).catch((err) => {
          if (!n.#abort.signal.aborted) {
            n.#log(`notify ${ep.label}: stopped by an error: ${err?.stack ?? err}`);
          }
        }),
      );
    }
    return n;
  }

  /**
   * Tells the loops a new incidents version may exist (call after each gold refresh). A loop
   * busy delivering when poked looks again before idling: a poke is never lost, or an event
   * committed meanwhile would wait for the poll interval (issue 28: alarms within seconds).
   */
  poke(): void {
    for (const ep of this.#poked.keys()) this.#poked.set(ep, true);
    for (const w of this.#wake.splice(0)) w();
  }

  /**
   * Waits until every endpoint has answered every event up to the incidents version current
   * now, or `timeoutMs` passes. True when caught up.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const target = await this.versions.latest() ?? -1;
    const deadline = Date.now() + timeoutMs;
    this.poke();
    while (Date.now() < deadline) {
      if ([...this.#progress.values()].every((p) => p.position >= target)) return true;
      await sleep(50);
    }
    return false;
  }

  /** Stops the loops (an event in flight is re-sent by the next start), records positions. */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.poke();
    await Promise.allSettled(this.#loops);
    await this.#commits.catch(() => {});
    this.db.close();
    await releaseStagingDirectories([this.outboxPath]);
  }

  #log(line: string): void {
    (this.opts.log ?? console.error)(line);
  }

  /** Waits for a poke, the poll interval or stop; at once when poked since `ep` last looked. */
  #idle(ep: Endpoint): Promise<void> {
    if (this.#poked.get(ep.id)) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, this.opts.pollMs ?? 5000);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#wake.push(done);
    });
  }

  /** Sleeps `ms` unless stopped first; false when stopped. */
  #sleep(ms: number): Promise<boolean> {
    return sleep(ms, true, { signal: this.#abort.signal }).catch(() => false);
  }

  /** The retry curve of both loops: from retryInitialMs doubling to retryMaxMs. */
  get #backoff(): { baseMs: number; maxMs: number } {
    return { baseMs: this.opts.retryInitialMs ?? 1000, maxMs: this.opts.retryMaxMs ?? 60_000 };
  }

  /** The endpoint's recorded position; a new endpoint starts now (recorded at once). */
  async #startPosition(ep: Endpoint): Promise<number> {
    const snap = await loadSnapshot(this.outboxPath, { tombstones: false });
    const seen = snap.txnVersion(notifyAppId(ep));
    if (seen !== undefined) return seen;
    // Not the incidents of the past: a table that does not exist yet is followed from its start.
    const start = await this.versions.latest() ?? -1;
    await this.#record(ep, start, []);
    this.#log(
      `notify ${ep.label}: new endpoint, events from gold/incidents ${
        start < 0 ? "creation" : `v${start}`
      } on`,
    );
    return start;
  }

  async #run(ep: Endpoint, progress: Progress): Promise<void> {
    let position = await this.#startPosition(ep);
    let recorded = position;
    let before: Map<string, IncidentRow>;
    try {
      before = await this.versions.at(position);
    } catch (err) {
      // Its log was cleaned up (30 days) while this endpoint was away: say what is skipped.
      const latest = await this.versions.latest() ?? -1;
      this.#log(
        `notify ${ep.label}: gold/incidents v${position} is no longer readable (${err}); ` +
          `events between v${position} and v${latest} are skipped`,
      );
      position = latest;
      before = await this.versions.at(position);
    }
    progress.position = position;
    const signal = this.#abort.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        this.#poked.set(ep.id, false);
        const latest = await this.versions.latest();
        while (latest !== null && position < latest && !signal.aborted) {
          const after = await this.versions.at(position + 1);
          const events = await diffIncidents(before, after.values(), {
            dashboardUrl: this.opts.dashboardUrl,
            version: position + 1,
          });
          const answered: Answered[] = [];
          for (const event of events) {
            const a = await this.#deliver(ep, event);
            if (a === null) return; // stopped mid-step: this step is re-sent by the next start
            answered.push(a);
          }
          before = after;
          position++;
          progress.position = position;
          if (answered.length > 0 || position - recorded >= STEPS_PER_COMMIT) {
            await this.#record(ep, position, answered);
            recorded = position;
          }
        }
        failures = 0;
      } catch (err) {
        // Reading the lakehouse or recording failed (storage trouble): the position is kept,
        // and the loop goes on after a backoff rather than ending this endpoint's deliveries.
        if (signal.aborted) break;
        const wait = Math.round(backoffDelay(failures++, this.#backoff));
        this.#log(
          `notify ${ep.label}: at gold/incidents v${position}: ${err}; retrying in ${wait} ms`,
        );
        if (!await this.#sleep(wait)) break;
        continue;
      }
      if (signal.aborted) break;
      await this.#idle(ep);
    }
    if (position !== recorded) await this.#record(ep, position, []);
  }

  /** Sends one event until it is answered; null when stopped first. */
  async #deliver(ep: Endpoint, event: IncidentEvent): Promise<Answered | null> {
    const signal = this.#abort.signal;
    const { baseMs, maxMs } = this.#backoff;
    try {
      return await retrying(async (i): Promise<Answered> => {
        const attempts = i + 1;
        const outcome = await postEvent(ep, event, {
          secret: this.opts.secret,
          timeoutMs: this.opts.timeoutMs,
          signal,
        });
        this.opts.onAttempt?.(
          outcome.ok ? "delivered" : outcome.retry ? "failed" : "rejected",
          event,
        );
        if (outcome.ok) {
          if (attempts > 1) {
            this.#log(
              `notify ${ep.label}: ${event.event} of incident ${event.incident_id} delivered ` +
                `after ${attempts} attempts`,
            );
          }
          return { event, attempts, status: "delivered", at: Date.now() };
        }
        if (!outcome.retry) {
          this.#log(
            `notify ${ep.label}: ${event.event} of incident ${event.incident_id} rejected ` +
              `(${outcome.reason}); not retried`,
          );
          return { event, attempts, status: `rejected: ${outcome.reason}`, at: Date.now() };
        }
        throw new DeliveryFailed(outcome.reason);
      }, {
        baseMs,
        maxMs,
        budgetMs: Infinity, // an event is never dropped: retried until answered or stopped
        retryable: (err) => err instanceof DeliveryFailed,
        onRetry: (e) => {
          // Once at the first failure, then at every attempt once the delay has reached its cap.
          if (e.attempt === 1 || baseMs * 2 ** (e.attempt - 1) >= maxMs) {
            this.#log(
              `notify ${ep.label}: ${event.event} of incident ${event.incident_id} failed ` +
                `(${(e.error as Error).message}); retrying every ≤ ${
                  Math.round(maxMs / 1000)
                } s with backoff`,
            );
          }
        },
        signal,
      });
    } catch {
      return null; // stopped: postEvent aborted, or stopped between attempts
    }
  }

  /** Commits the answered events' rows and the endpoint's position, one commit. */
  #record(ep: Endpoint, position: number, answered: Answered[]): Promise<void> {
    const run = async () => {
      const snap: Snapshot = await loadSnapshot(this.outboxPath, { tombstones: false });
      let adds: Awaited<ReturnType<typeof writeDataFiles>> = [];
      if (answered.length > 0) {
        const values = answered.map((a) =>
          `(${sqlString(a.event.event_id)}, ${sqlString(a.event.event)}, ${
            sqlString(a.event.incident_id)
          }, ${sqlString(a.event.severity)}, ${sqlString(ep.id)}, ${a.event.incidents_version}, ${
            sqlString(new Date(a.at).toISOString())
          }::TIMESTAMPTZ, ${a.attempts}, ${sqlString(a.status)})`
        );
        adds = await writeDataFiles(
          this.writer,
          snap,
          `SELECT * FROM (VALUES ${values.join(", ")}) AS t(event_id, event, incident_id,
             severity, endpoint, incidents_version, delivered_at, attempts, status)`,
        );
      }
      await commit(this.outboxPath, adds.map((add) => ({ add })), {
        readVersion: snap.version,
        operation: "NOTIFY",
        operationParameters: { endpoint: ep.id, incidentsVersion: position },
        txns: [{ appId: notifyAppId(ep), version: position }],
        isBlindAppend: true,
      });
    };
    // One at a time: endpoints share the writer connection and the table.
    const next = this.#commits.then(run, run);
    this.#commits = next.catch(() => {});
    return next;
  }
}

/** A retryable answer (5xx, 408, 429, no answer); its message is the reason. */
class DeliveryFailed extends Error {}
