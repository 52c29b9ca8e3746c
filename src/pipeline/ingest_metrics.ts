/**
 * The ingestion metrics (consume, ingest-files): what each committed flush wrote, by outcome
 * and quarantine reason, how long each table's commit took, how many rows a flush carried, and
 * how fresh silver is. Fed by `Ingestor.observer`, one call per committed flush, so the counters
 * move only with commits and agree with the tables: `records_total{outcome="silver"}` is the
 * rows this process added to silver, `{outcome="quarantine"}` to quarantine, and
 * `{outcome="duplicate"}` the bronze rows it marked `duplicate`.
 *
 * Health: the last flush did not fail, and no flush has been writing for longer than
 * `stuckAfterMs` (ten max-latencies, at least 10 s: a flush of a full batch takes well under
 * 2 s here, so ten times the freshness bound means storage is not answering).
 */
import {
  bucketsBetween,
  Counter,
  createRegistry,
  Histogram,
  type Registry,
  scrapedCounter,
  scrapedGauge,
} from "../metrics/registry.ts";
import { evaluate, type HealthCheck, secondsSince } from "../metrics/health.ts";
import { type MetricsServer, startMetricsServer } from "../metrics/server.ts";
import { errorText } from "../config.ts";
import type { FlushReport, IngestObserver, Ingestor } from "./ingestor.ts";
import { INGEST_TABLES } from "./tables.ts";

export interface IngestMetricsOptions {
  /** Name of the records counter: `smarttech_consume_records_total` for consume. */
  recordsMetric: string;
  /** The flush policy's max latency, ms (for the stuck-flush check). */
  maxLatencyMs: number;
}

export class IngestMetrics implements IngestObserver {
  readonly #records: Counter<"outcome">;
  readonly #quarantine: Counter<"reason">;
  readonly #commit: Histogram<"table">;
  readonly #flushRows: Histogram;
  readonly #started = Date.now();
  #lastSilverAt: number | null = null;
  #newestEventMs = 0;
  readonly stuckAfterMs: number;

  constructor(registry: Registry, readonly opts: IngestMetricsOptions) {
    const registers = [registry];
    this.stuckAfterMs = Math.max(10 * opts.maxLatencyMs, 10_000);
    this.#records = new Counter({
      name: opts.recordsMetric,
      help: "Records committed, by outcome: silver (valid, new), quarantine (rejected), " +
        "duplicate (bronze rows marked duplicate)",
      labelNames: ["outcome"],
      registers,
    });
    for (const outcome of ["silver", "quarantine", "duplicate"]) this.#records.inc({ outcome }, 0);
    this.#quarantine = new Counter({
      name: "smarttech_quarantine_total",
      help: "Records committed to quarantine, by reason",
      labelNames: ["reason"],
      registers,
    });
    this.#commit = new Histogram({
      name: "smarttech_commit_duration_seconds",
      help: "Per flush and table: writing its Parquet files and committing (retries included)",
      labelNames: ["table"],
      buckets: bucketsBetween(0.01, 30),
      registers,
    });
    this.#flushRows = new Histogram({
      name: "smarttech_flush_rows",
      help: "Records (bronze rows) per committed flush",
      buckets: bucketsBetween(10, 1_000_000, 4),
      registers,
    });
    scrapedCounter(registry, {
      name: "smarttech_redelivered_records_total",
      help: "Records delivered again that the tables already held, dropped (after a rebalance " +
        "or a restart; not in the records counter)",
    }, () => this.#ingestor?.totals.alreadyHeld ?? 0);
    scrapedGauge(registry, {
      name: "smarttech_freshness_seconds",
      help: "Seconds since the last commit that added readings to silver (since start if none)",
    }, (g) => g.set((Date.now() - (this.#lastSilverAt ?? this.#started)) / 1000));
    scrapedGauge(registry, {
      name: "smarttech_newest_reading_timestamp_seconds",
      help: "Event time of the newest reading this process committed to silver (unix seconds)",
    }, (g) => {
      if (this.#newestEventMs > 0) g.set(this.#newestEventMs / 1000);
    });
  }

  /** Starts observing `ingestor`'s flushes. */
  attach(ingestor: Ingestor): void {
    ingestor.observer = this;
    this.#ingestor = ingestor;
  }

  #ingestor: Ingestor | null = null;

  flushed(r: FlushReport): void {
    const rows = r.result.rows;
    this.#records.inc({ outcome: "silver" }, rows.silver);
    this.#records.inc({ outcome: "quarantine" }, rows.quarantine);
    this.#records.inc({ outcome: "duplicate" }, r.duplicates);
    for (const c of r.counts.values()) {
      for (const [reason, n] of Object.entries(c.rejected)) this.#quarantine.inc({ reason }, n);
    }
    for (const table of INGEST_TABLES) {
      const s = r.result.seconds[table];
      if (s !== undefined) this.#commit.observe({ table }, s);
    }
    this.#flushRows.observe(r.records);
    if (rows.silver > 0) {
      this.#lastSilverAt = Date.now();
      const newest = this.#ingestor?.totals.newestEventMs ?? 0;
      if (newest > this.#newestEventMs) this.#newestEventMs = newest;
    }
  }

  /** The ingestion checks: the last flush succeeded, none is stuck. */
  checks(): HealthCheck[] {
    return [
      {
        name: "commit",
        check: () => {
          const i = this.#ingestor;
          if (!i) return "tables not open yet";
          return i.failure ? `last flush failed: ${errorText(i.failure)}` : null;
        },
      },
      {
        name: "flush",
        check: () => {
          const at = this.#ingestor?.flushStartedAt;
          if (at === null || at === undefined) return null;
          return performance.now() - at > this.stuckAfterMs
            ? `a flush has been writing for ${secondsSince(at)} s (limit ${
              this.stuckAfterMs / 1000
            } s)`
            : null;
        },
      },
    ];
  }
}

/**
 * A metrics endpoint for an ingestion without a broker (`ingest-files --watch`): the process
 * metrics, the ingestion metrics under `recordsMetric`, and /healthz from the ingestion checks.
 */
export function serveIngestMetrics(
  address: { host: string; port: number },
  ingestor: Ingestor,
  opts: IngestMetricsOptions,
): MetricsServer {
  const registry = createRegistry();
  const metrics = new IngestMetrics(registry, opts);
  metrics.attach(ingestor);
  return startMetricsServer({
    ...address,
    registry,
    health: () => evaluate(metrics.checks(), { records: ingestor.totals.records }),
  });
}
