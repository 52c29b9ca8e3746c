/**
 * The source-independent half of ingestion: one DuckDB session, the dedup state, the open
 * batch and its flush policy. The Kafka consumer and the file source feed records into it.
 *
 * A flush happens on whichever comes first: `maxRows`, `maxBytes` or `maxLatencyMs` since the
 * batch's first record — bounded freshness without tiny files under load. All flushes and
 * record additions are serialised by `exclusive()`, so a timer-driven flush never interleaves
 * with a source adding records.
 */
import { openDuckDB, sqlString } from "../query/duckdb.ts";
import type { DuckDB } from "../query/duckdb.ts";
import { Batch, type SourceRecord } from "./batch.ts";
import { DedupState } from "./dedup.ts";
import { ensureIngestTables, type IngestTable } from "./tables.ts";
import { type FlushResult, IngestWriter } from "./writer.ts";

export interface FlushPolicy {
  /** Rows (bronze) per flush at most (default 100,000). */
  maxRows: number;
  /** Approximate bytes buffered at most (default 64 MiB). */
  maxBytes: number;
  /** Age of the oldest buffered record at most, ms (default 1000). */
  maxLatencyMs: number;
}

export const DEFAULT_FLUSH_POLICY: FlushPolicy = {
  maxRows: 100_000,
  maxBytes: 64 * 1024 * 1024,
  maxLatencyMs: 1000,
};

export interface IngestorOptions {
  lakehouse: string;
  /** Written into commitInfo as the streaming query id. */
  queryId: string;
  policy?: Partial<FlushPolicy>;
  /** Dedup horizon in event time, ms (default 1 h). */
  dedupHorizonMs?: number;
  /** Payloads larger than this are quarantined as too_large (default 1 MiB). */
  maxPayloadBytes?: number;
  /** DuckDB threads for writing Parquet (default: DuckDB's choice). */
  threads?: number;
}

/** Running totals since start, for progress lines and summaries. */
export interface IngestTotals {
  records: number;
  rows: Record<IngestTable, number>;
  duplicates: number;
  flushes: number;
  conflictRetries: number;
  lastVersions: Partial<Record<IngestTable, number>>;
  /** Newest event time committed to silver, ms. */
  newestEventMs: number;
  /** Wall time of the last commit, ms. */
  lastCommitAt: number;
}

export class Ingestor {
  readonly policy: FlushPolicy;
  readonly dedup: DedupState;
  readonly totals: IngestTotals = {
    records: 0,
    rows: { bronze: 0, silver: 0, quarantine: 0 },
    duplicates: 0,
    flushes: 0,
    conflictRetries: 0,
    lastVersions: {},
    newestEventMs: 0,
    lastCommitAt: 0,
  };
  #batch: Batch;
  #lock: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(
    readonly db: DuckDB,
    readonly writer: IngestWriter,
    readonly opts: IngestorOptions,
  ) {
    this.policy = { ...DEFAULT_FLUSH_POLICY, ...opts.policy };
    this.dedup = new DedupState(opts.dedupHorizonMs ?? 3_600_000);
    this.#batch = this.#newBatch();
  }

  /** Creates the tables if needed, reads their snapshots and seeds dedup state from silver. */
  static async open(opts: IngestorOptions): Promise<Ingestor> {
    await ensureIngestTables(opts.lakehouse);
    const db = await openDuckDB({ threads: opts.threads });
    try {
      const ingestor = new Ingestor(db, new IngestWriter(db.conn, opts), opts);
      await ingestor.resync();
      return ingestor;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Runs `fn` with no flush or add in between; the building block of every mutation. */
  exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.then(() => {}, () => {});
    return run;
  }

  /**
   * Re-reads table snapshots and rebuilds dedup state from silver. Call with nothing buffered
   * (after a flush): the state then equals exactly what silver holds.
   */
  async resync(): Promise<void> {
    await this.writer.refresh();
    this.dedup.clear();
    const silver = sqlString(this.writer.path("silver"));
    const h = this.dedup.horizonMs;
    const result = await this.db.conn.stream(
      `WITH s AS (
         SELECT device_id, type, epoch_ms(timestamp) AS ts FROM delta_scan(${silver})
         WHERE timestamp >= (SELECT max(timestamp) FROM delta_scan(${silver})) - to_milliseconds(${h}))
       SELECT device_id, type, ts FROM s
       QUALIFY ts > max(ts) OVER (PARTITION BY device_id, type) - ${h}`,
    );
    // Chunk by chunk: an hour of a large site is millions of keys.
    for (
      let chunk = await result.fetchChunk();
      chunk && chunk.rowCount > 0;
      chunk = await result.fetchChunk()
    ) {
      for (const [device, type, ts] of chunk.getRows()) {
        this.dedup.seed(String(device), String(type), Number(ts));
      }
    }
    this.#batch = this.#newBatch();
  }

  #newBatch(): Batch {
    return new Batch(this.dedup, this.writer.thresholds([]), {
      maxPayloadBytes: this.opts.maxPayloadBytes ?? 1024 * 1024,
    });
  }

  /** Where a stream should resume: one past what all three tables hold. */
  resumePosition(appId: string): number {
    return this.writer.resumePosition(appId);
  }

  /**
   * Stages records. Thresholds for unseen appIds are read from the current snapshots so that
   * records the tables already hold are skipped.
   */
  add(records: Iterable<SourceRecord>): void {
    const b = this.#batch;
    for (const rec of records) {
      if (!b.knownApps.has(rec.appId)) {
        b.knownApps.add(rec.appId);
        const t = this.writer.thresholds([rec.appId]);
        for (const table of ["bronze", "silver", "quarantine"] as const) {
          const v = t[table].get(rec.appId);
          if (v !== undefined) b.thresholds[table].set(rec.appId, v);
        }
      }
      b.add(rec);
      this.totals.records++;
    }
  }

  /** True when a flush trigger has fired. */
  shouldFlush(now = performance.now()): boolean {
    const b = this.#batch;
    if (b.lastPosition.size === 0) return false;
    return b.size >= this.policy.maxRows || b.bytes >= this.policy.maxBytes ||
      now - b.startedAt >= this.policy.maxLatencyMs;
  }

  get buffered(): number {
    return this.#batch.size;
  }

  /** Commits the open batch (call inside `exclusive`). Returns null when it was empty. */
  async flushNow(): Promise<{ result: FlushResult; lastPositions: Map<string, number> } | null> {
    const b = this.#batch;
    if (b.lastPosition.size === 0) return null;
    const result = await this.writer.flush(b);
    // The batch's thresholds now lag the tables; the next batch reads fresh ones.
    this.#batch = this.#newBatch();
    this.totals.flushes++;
    this.totals.conflictRetries += result.retries;
    this.totals.duplicates += b.counts.duplicates;
    for (const t of ["bronze", "silver", "quarantine"] as const) {
      this.totals.rows[t] += result.rows[t];
      if (result.versions[t] !== undefined) this.totals.lastVersions[t] = result.versions[t];
    }
    if (b.newestEventMs > this.totals.newestEventMs) this.totals.newestEventMs = b.newestEventMs;
    this.totals.lastCommitAt = Date.now();
    return { result, lastPositions: b.lastPosition };
  }

  /** Flushes what is buffered and releases DuckDB. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.exclusive(() => this.flushNow());
    this.#closed = true;
    this.db.close();
  }

  /** Releases DuckDB without flushing (after a fatal error). */
  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.db.close();
  }
}
