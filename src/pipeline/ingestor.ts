/**
 * The source-independent half of ingestion: one DuckDB session, the dedup state, the open
 * batch and its flush policy. The Kafka consumer and the file source feed records into it.
 *
 * A flush happens on whichever comes first: `maxRows`, `maxBytes` or `maxLatencyMs` since the
 * batch's first record — bounded freshness without tiny files under load. While the source
 * reports a backlog (a consumer behind its topic), batches grow to `backlogRows`: every flush
 * costs a file per partition and table whatever its size, and freshness is moot until the
 * backlog is gone. All flushes and record additions are serialised by `exclusive()`, so a
 * timer-driven flush never interleaves with a source adding records.
 */
import { mayHoldTime, timeRange } from "../delta/actions.ts";
import { optimize, releaseStagingDirectories } from "../delta/table.ts";
import { openDuckDB } from "../duckdb/engine.ts";
import { enableLocation } from "../duckdb/s3.ts";
import { snapshotScanSql } from "../delta/scan.ts";
import type { DuckDB } from "../duckdb/engine.ts";
import type { DuckDBConnection } from "@duckdb/node-api";
import type { SensorCatalogue } from "../reading/catalogue.ts";
import { builtinCatalogue } from "../reading/catalogue_file.ts";
import { type AppCounts, Batch, type SourceRecord } from "./batch.ts";
import { DedupState } from "./dedup.ts";
import { ensureIngestTables, INGEST_TABLES, type IngestTable } from "./tables.ts";
import { type FlushResult, IngestWriter } from "./writer.ts";

export interface FlushPolicy {
  /** Rows (bronze) per flush at most (default 50,000). */
  maxRows: number;
  /** Approximate bytes buffered at most (default 16 MiB). */
  maxBytes: number;
  /** Age of the oldest buffered record at most, ms (default 650: freshness p99 stays under 1 s with commit time on top). */
  maxLatencyMs: number;
  /**
   * Rows per flush while the source is more than `maxRows` records behind (0: no backlog
   * mode). `maxBytes` scales with it, and the latency trigger waits BACKLOG_LATENCY_FACTOR
   * times longer: per-file and per-commit costs are paid once per partition and flush, so a
   * backlog drains with fewer, larger files and less CPU.
   */
  backlogRows: number;
}

/** How much longer a batch may wait while draining a backlog (it fills long before). */
const BACKLOG_LATENCY_FACTOR = 10;

export const DEFAULT_FLUSH_POLICY: FlushPolicy = {
  maxRows: 50_000,
  maxBytes: 16 * 1024 * 1024,
  maxLatencyMs: 650,
  backlogRows: 100_000,
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
  /** Event times further ahead of the ingest clock are quarantined as future_timestamp, ms (default 5 min). */
  futureToleranceMs?: number;
  /** DuckDB threads for writing Parquet (default: DuckDB's choice). */
  threads?: number;
  /** DuckDB memory limit (default 256MB). */
  memoryLimit?: string;
  /** Auto-compaction; see {@link CompactionPolicy} and DEFAULT_COMPACTION. */
  compaction?: Partial<CompactionPolicy>;
  /** Maintenance messages (compactions and why one was skipped). */
  onLog?: (message: string) => void;
  /** The sensor catalogue to decode with (default: the repository's); see {@link Ingestor.catalogue}. */
  catalogue?: SensorCatalogue;
}

/**
 * Auto-compaction: every flush writes a file per partition and table, so a consumer left
 * running adds tens of small files a second, which every reader, checkpoint and the writer's
 * own snapshot pay for. Two triggers, both between flushes and both rewriting files into files
 * of up to `targetBytes` (optimize, dataChange=false); files reaching the target are left alone:
 * - by count, after every flush: a partition's small files of one tier (appended files are
 *   tier 0, compacting `tierFiles` of tier k makes one of tier k + 1) are compacted as soon as
 *   `tierFiles` of them are there. A partition thus holds at most `tierFiles` small files of
 *   one tier (a tier a pass just completed is compacted after the next flush), whatever the
 *   rate, and a row is rewritten about log_tierFiles(targetBytes / flush file size) times;
 * - by time, at most once per `intervalMs`: partitions holding `minFiles` small files of any
 *   tiers have them packed together (a sweep for what the count trigger leaves, e.g. files an
 *   older version wrote).
 * `deno task table optimize` makes larger files.
 */
export interface CompactionPolicy {
  /** Least time between two compaction passes by time, ms (0 = never). */
  intervalMs: number;
  /** Small files a partition must hold before the pass by time compacts them. */
  minFiles: number;
  /** Small files of one tier that make the pass by count compact them (0 = never). */
  tierFiles: number;
  /** Files at or over this size are never rewritten; bins are packed up to it. */
  targetBytes: number;
}

export const DEFAULT_COMPACTION: CompactionPolicy = {
  intervalMs: 5 * 60_000,
  minFiles: 50,
  tierFiles: 10,
  targetBytes: 8 * 1024 * 1024,
};

/** What one committed flush did, for an observer (metrics: src/pipeline/ingest_metrics.ts). */
export interface FlushReport {
  /** Records the batch staged (each at most one bronze row). */
  records: number;
  duplicates: number;
  /** Per source (appId): records, valid, duplicates and rejects by reason. */
  counts: Map<string, AppCounts>;
  result: FlushResult;
}

/** Watches an ingestor's flushes; set `Ingestor.observer`. */
export interface IngestObserver {
  flushed(report: FlushReport): void;
}

/** Running totals since start, for progress lines and summaries. */
export interface IngestTotals {
  /** Records staged: new to the tables, each one bronze row once committed. */
  records: number;
  /** Readings those records carried (a wide payload carries several). */
  readings: number;
  /**
   * Records handed over again that all three tables already held, and dropped: a partition's
   * messages redelivered from Kafka's committed offset (which trails the tables) after a
   * rebalance or rejoin, a file read again. Not in `records`.
   */
  alreadyHeld: number;
  rows: Record<IngestTable, number>;
  duplicates: number;
  flushes: number;
  conflictRetries: number;
  /** Compaction commits made, and the small files they replaced. */
  compactions: number;
  filesCompacted: number;
  lastVersions: Partial<Record<IngestTable, number>>;
  /** Newest event time committed to silver, ms. */
  newestEventMs: number;
  /** Wall time of the last commit, ms. */
  lastCommitAt: number;
}

export class Ingestor {
  readonly policy: FlushPolicy;
  readonly dedup: DedupState;
  /** Records each stream of the source still has to deliver (see reportBacklog). */
  readonly #backlog = new Map<string, number>();
  readonly totals: IngestTotals = {
    records: 0,
    readings: 0,
    alreadyHeld: 0,
    rows: { bronze: 0, silver: 0, quarantine: 0 },
    duplicates: 0,
    flushes: 0,
    conflictRetries: 0,
    compactions: 0,
    filesCompacted: 0,
    lastVersions: {},
    newestEventMs: 0,
    lastCommitAt: 0,
  };
  /** The open batch (set by resync(), which open() runs). */
  #batch!: Batch;
  #catalogue: SensorCatalogue;
  #inflight: Promise<void> | null = null;
  #inflightRows = 0;
  /** Called after each successful flush with what each source (appId) contributed to it. */
  onCommittedCounts?: (counts: Map<string, AppCounts>) => void;
  /** Called after each successful flush with the last position committed per appId. */
  onCommitted?: (lastPositions: Map<string, number>, result: FlushResult) => void;
  /** Sees every committed flush (metrics). */
  observer?: IngestObserver;
  /** performance.now() when the flush in flight started writing, or null (health checks). */
  flushStartedAt: number | null = null;
  #lock: Promise<void> = Promise.resolve();
  readonly compaction: CompactionPolicy;
  #lastCompaction = performance.now();
  #closed = false;
  /** DuckDB's spill directory (see open), removed with it. */
  #spill: string | null = null;
  /**
   * The error of a failed flush, once there was one. A failed flush is fatal: its records
   * already went through the dedup state and the source has moved past them, so committing
   * anything after it would skip them (or mark their redelivery as duplicates). Every later
   * add or flush rethrows it; the process must restart, rebuilding its state from the tables.
   */
  #failure: unknown = null;

  private constructor(
    readonly db: DuckDB,
    /**
     * Two connections, taken in turn by successive batches: a batch appends its rows while
     * the previous one is written, and a connection runs one thing at a time.
     */
    readonly conns: readonly [DuckDBConnection, DuckDBConnection],
    readonly writer: IngestWriter,
    readonly opts: IngestorOptions,
  ) {
    this.policy = { ...DEFAULT_FLUSH_POLICY, ...opts.policy };
    this.compaction = { ...DEFAULT_COMPACTION, ...opts.compaction };
    this.dedup = new DedupState(opts.dedupHorizonMs ?? 3_600_000);
    this.#catalogue = opts.catalogue ?? builtinCatalogue();
  }

  /** Creates the tables if needed, reads their snapshots and seeds dedup state from silver. */
  static async open(opts: IngestorOptions): Promise<Ingestor> {
    const created = await ensureIngestTables(opts.lakehouse);
    // DuckDB's default memory limit is 80 % of RAM; a flush needs far less, and the consumer's
    // footprint is a published figure.
    // Ingestion reads its tables through their snapshots, never delta_scan: no extension (its
    // 20 MB would count in the consumer's footprint).
    // A batch that outgrows the memory limit spills here, not into `.tmp` in the working
    // directory (a service's, or the project's); removed on close.
    const spill = await Deno.makeTempDir({ prefix: "smarttech-ingest-spill-" });
    const db = await openDuckDB({
      delta: false,
      threads: opts.threads,
      memoryLimit: opts.memoryLimit ?? "128MB",
      // Compaction and dedup seeding read each file once.
      fileCache: false,
      tempDirectory: spill,
    }).catch(async (err) => {
      await Deno.remove(spill, { recursive: true }).catch(() => {});
      throw err;
    });
    try {
      const conns = [db.conn, await db.connect()] as const;
      const writer = new IngestWriter(opts);
      writer.adopt(created);
      const ingestor = new Ingestor(db, conns, writer, opts);
      ingestor.#spill = spill;
      await ingestor.resync();
      return ingestor;
    } catch (err) {
      db.close();
      removeSpill(spill);
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
   * (after a flush): the state then equals exactly what silver holds from the rebuild floor on.
   */
  async resync(): Promise<void> {
    await this.#awaitInflight();
    this.#batch?.discard();
    const snap = await this.writer.resynced();
    const h = this.dedup.horizonMs;
    // Only files whose stats reach into the last horizon before silver's newest reading (and
    // files without stats) can hold state: the snapshot just read says which.
    const newest = Math.max(...snap.files.map((f) => timeRange(f)?.[1] ?? -Infinity));
    const files = snap.files.filter((f) => mayHoldTime(f, newest - h));
    const silver = `(${snapshotScanSql(snap, files)})`;
    await enableLocation(this.db.conn, snap.path);
    // The floor: every row of silver at or after it is read below, so the cache is exact from
    // there on; anything older is looked up in silver (a lagging device, a backfill).
    const top = await this.db.conn.runAndReadAll(
      `SELECT epoch_ms(max(timestamp)) FROM ${silver}`,
    );
    const max = top.getRows()[0]?.[0];
    const floor = max === null || max === undefined ? -Infinity : Number(max) - h;
    this.dedup.clear(floor);
    const result = await this.db.conn.stream(
      `SELECT device_id, type, epoch_ms(timestamp) AS ts FROM ${silver}
       WHERE timestamp >= make_timestamp(${Number.isFinite(floor) ? floor * 1000 : 0}::BIGINT)
       QUALIFY ts > max(ts) OVER (PARTITION BY device_id, type) - ${h}
       ORDER BY device_id, type, ts`,
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
    this.#batch = await this.#openBatch(this.conns[0]);
  }

  async #openBatch(conn: DuckDBConnection): Promise<Batch> {
    const batch = await Batch.open(conn, this.dedup, this.writer.thresholds([]), {
      maxPayloadBytes: this.opts.maxPayloadBytes ?? 1024 * 1024,
      futureToleranceMs: this.opts.futureToleranceMs,
      catalogue: this.#catalogue,
    });
    batch.baseVersion = this.writer.syncedVersion;
    return batch;
  }

  /** The sensor catalogue records are decoded with. */
  get catalogue(): SensorCatalogue {
    return this.#catalogue;
  }

  /**
   * Decodes with `cat` from the next record on, the open batch included (a reloaded
   * sensors.yaml). Records already staged keep the outcome of the catalogue they were decoded
   * with: exactly-once is per record, and a record is decoded once.
   */
  set catalogue(cat: SensorCatalogue) {
    this.#catalogue = cat;
    if (this.#batch) this.#batch.catalogue = cat;
  }

  /** Where a stream should resume: one past what all three tables hold. */
  resumePosition(appId: string): number {
    return this.writer.resumePosition(appId);
  }

  /** One past the highest position of `appId` that is committed or in the open batch. */
  receivedThrough(appId: string): number {
    const staged = this.#batch.lastPosition.get(appId);
    return Math.max(this.resumePosition(appId), staged === undefined ? 0 : staged + 1);
  }

  /**
   * Stages records. Thresholds for unseen appIds are read from the current snapshots so that
   * records the tables already hold are skipped.
   */
  add(records: Iterable<SourceRecord>): void {
    if (this.#failure) throw this.#failure;
    const b = this.#batch;
    for (const rec of records) {
      if (!b.knownApps.has(rec.appId)) {
        b.knownApps.add(rec.appId);
        const t = this.writer.thresholds([rec.appId]);
        for (const table of INGEST_TABLES) {
          const v = t[table].get(rec.appId);
          if (v !== undefined) b.thresholds[table].set(rec.appId, v);
        }
      }
      const before = b.size;
      b.add(rec);
      if (b.size > before) this.totals.records++;
      else this.totals.alreadyHeld++;
    }
  }

  /**
   * Stages records, starting a flush whenever a trigger fires, so batches keep to `maxRows`
   * however many records a source hands over at once. Call inside `exclusive`.
   */
  async addAll(records: SourceRecord[]): Promise<void> {
    for (let i = 0; i < records.length;) {
      const room = Math.max(1, this.#limits().rows - this.#batch.size);
      this.add(records.slice(i, i + room));
      i += room;
      if (this.shouldFlush()) await this.startFlush();
    }
  }

  /** True when a flush trigger has fired. */
  shouldFlush(now = performance.now()): boolean {
    const b = this.#batch;
    if (b.size === 0 && b.lastPosition.size === 0) return false;
    const limits = this.#limits();
    return b.size >= limits.rows || b.bytes >= limits.bytes ||
      now - b.startedAt >= limits.latencyMs;
  }

  /**
   * Records the source still has to deliver for one of its streams (a Kafka partition: the
   * high watermark minus the next offset), as of its latest fetch. Batches grow while the sum
   * exceeds `maxRows` (see FlushPolicy.backlogRows).
   */
  reportBacklog(stream: string, records: number): void {
    this.#backlog.set(stream, Math.max(0, records));
  }

  /** Forgets every reported backlog (the source's streams changed: a rebalance). */
  clearBacklog(): void {
    this.#backlog.clear();
  }

  /** Whether the batches are in backlog mode now (see FlushPolicy.backlogRows). */
  get draining(): boolean {
    const p = this.policy;
    if (p.backlogRows <= p.maxRows) return false;
    let behind = 0;
    for (const n of this.#backlog.values()) behind += n;
    return behind > p.maxRows;
  }

  /** The flush triggers in force: the policy's, or the backlog mode's. */
  #limits(): { rows: number; bytes: number; latencyMs: number } {
    const p = this.policy;
    if (!this.draining) return { rows: p.maxRows, bytes: p.maxBytes, latencyMs: p.maxLatencyMs };
    return {
      rows: p.backlogRows,
      bytes: Math.round(p.maxBytes * p.backlogRows / p.maxRows),
      latencyMs: p.maxLatencyMs * BACKLOG_LATENCY_FACTOR,
    };
  }

  /** The error that made the ingestor unusable (a failed flush), or null. */
  get failure(): unknown {
    return this.#failure;
  }

  /** Records buffered and not yet committed (including a flush in flight). */
  get buffered(): number {
    return this.#batch.size + this.#inflightRows;
  }

  /**
   * Starts committing the open batch in the background and opens a new one, so decoding the
   * next records overlaps with DuckDB writing Parquet (double buffering). At most one flush is
   * in flight: a second call waits for the first (backpressure). Call inside `exclusive`.
   */
  async startFlush(): Promise<void> {
    await this.#awaitInflight();
    const b = this.#batch;
    if (b.lastPosition.size === 0) return;
    this.#batch = await this.#openBatch(b.conn === this.conns[0] ? this.conns[1] : this.conns[0]);
    this.#inflightRows = b.size;
    this.flushStartedAt = performance.now();
    this.#inflight = this.writer.flush(b).finally(() => {
      this.#inflightRows = 0;
      this.flushStartedAt = null;
    }).then(async (result) => {
      this.#committed(b, result);
      // On the flushed batch's connection, idle now: the open batch appends on the other.
      await this.#compactIfDue(b.conn);
    });
    // Surface a failure through the next await, never as an unhandled rejection.
    this.#inflight.catch(() => {});
  }

  /** Commits everything buffered and waits for it (call inside `exclusive`). */
  async flushNow(): Promise<void> {
    await this.startFlush();
    await this.#awaitInflight();
  }

  async #awaitInflight(): Promise<void> {
    if (this.#failure) throw this.#failure;
    const inflight = this.#inflight;
    if (!inflight) return;
    try {
      await inflight;
    } catch (err) {
      this.#failure = err;
      throw err;
    } finally {
      if (this.#inflight === inflight) this.#inflight = null;
    }
  }

  #committed(b: Batch, result: FlushResult): void {
    this.totals.flushes++;
    this.totals.conflictRetries += result.retries;
    this.totals.duplicates += b.counts.duplicates;
    this.totals.readings += b.counts.readings;
    for (const t of INGEST_TABLES) {
      this.totals.rows[t] += result.rows[t];
      if (result.versions[t] !== undefined) this.totals.lastVersions[t] = result.versions[t];
    }
    if (b.newestEventMs > this.totals.newestEventMs) this.totals.newestEventMs = b.newestEventMs;
    this.totals.lastCommitAt = Date.now();
    this.onCommittedCounts?.(b.appCounts());
    this.observer?.flushed({
      records: b.size,
      duplicates: b.counts.duplicates,
      counts: b.appCounts(),
      result,
    });
    this.onCommitted?.(b.lastPosition, result);
  }

  /**
   * The compaction passes that are due (see CompactionPolicy). Never fatal: its files are
   * committed only with the removal of those they replace, so a failed or lost pass (another
   * writer compacted the same files first) leaves the table as it was, and the next one retries.
   */
  async #compactIfDue(conn: DuckDBConnection): Promise<void> {
    const c = this.compaction;
    // By count: planned from the snapshot in memory, so a flush without enough files costs
    // a walk over the table's file list and no I/O. Not while draining a backlog: its flushes
    // are large already, and the drain would rewrite its own files as it goes; the first flush
    // once caught up compacts what the drain left.
    if (c.tierFiles > 0 && !this.draining) {
      await this.#compact(conn, { minFiles: c.tierFiles, tiered: true });
    }
    if (!(c.intervalMs > 0) || performance.now() - this.#lastCompaction < c.intervalMs) return;
    this.#lastCompaction = performance.now();
    await this.#compact(conn, { minFiles: c.minFiles, tiered: false });
  }

  async #compact(
    conn: DuckDBConnection,
    pass: { minFiles: number; tiered: boolean },
  ): Promise<void> {
    for (const table of INGEST_TABLES) {
      try {
        const r = await optimize(this.writer.path(table), {
          snapshot: this.writer.snapshots.get(table),
          conn,
          targetSize: this.compaction.targetBytes,
          ...pass,
        });
        if (r.version === undefined) continue;
        this.totals.compactions++;
        this.totals.filesCompacted += r.filesRemoved;
        this.opts.onLog?.(
          `compacted ${table}: ${r.filesRemoved} files into ${r.filesAdded} ` +
            `(${r.partitionsOptimized} partitions, version ${r.version})`,
        );
      } catch (err) {
        this.opts.onLog?.(`compaction of ${table} skipped: ${(err as Error).message}`);
      }
    }
  }

  /** Flushes what is buffered and releases DuckDB. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.exclusive(() => this.flushNow());
    this.#closed = true;
    this.#batch.discard();
    this.db.close();
    removeSpill(this.#spill);
    await releaseStagingDirectories(INGEST_TABLES.map((t) => this.writer.path(t)));
  }

  /** Releases DuckDB without flushing (after a fatal error). */
  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#batch?.discard();
    } finally {
      this.db.close();
      removeSpill(this.#spill);
    }
  }
}

/** Removes a closed DuckDB's spill directory (null: none). */
function removeSpill(dir: string | null): void {
  if (dir === null) return;
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* already gone */ }
}
