/**
 * Flushes a batch into silver, bronze and quarantine, exactly once.
 *
 * Invariant: a table holds every position of an appId up to its stored txn version and none
 * above. Each table's commit carries, atomically with its files, one txn per appId of the
 * batch (version = last position). Rows are filtered against the txn versions of a snapshot
 * read just before writing — so positions another process committed meanwhile are dropped —
 * and the Delta commit fails with ConcurrentTransactionError if a txn for the same appId lands
 * after that snapshot; we then re-read and write again. The source resumes from the smallest
 * version over the three tables.
 *
 * Silver is committed first because its commit is where uniqueness is decided: the batch's
 * provisional rows are resolved against silver's snapshot and the commits of other writers are
 * checked (silver_check.ts), and a commit that loses a race re-checks the winners' rows before
 * retrying. Bronze, written after, records each row's final status (valid or duplicate), so
 * bronze = silver + quarantine + duplicates holds even when two writers race for one key. A
 * crash between silver and bronze replays positions silver holds: those rows are `replay` and
 * resolve by whether silver's row for their key is theirs.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { CommitConflictError, ConcurrentTransactionError } from "../delta/errors.ts";
import { evolveTo } from "../delta/evolution.ts";
import type { TableSchema } from "../delta/schema.ts";
import type { ExtraColumn } from "../reading/catalogue.ts";
import { rememberCheckpointPolicy } from "../delta/checkpoint.ts";
import { commit } from "../delta/commit.ts";
import { loadSnapshot, refreshSnapshot, type Snapshot } from "../delta/snapshot.ts";
import { writeDataFiles } from "../delta/table.ts";
import type { ParquetCodec } from "../delta/parquet_writer.ts";
import { decodeAddPath } from "../delta/partition.ts";
import { resumeFromSnapshots } from "./positions.ts";
import { appendRows } from "../duckdb/engine.ts";
import { joinLocation } from "../storage/location.ts";
import { storageFor } from "../storage/storage.ts";
import { faultPoint } from "../fault_point.ts";
import type { AddAction } from "../delta/actions.ts";
import { type Batch, STATUS, type Thresholds } from "./batch.ts";
import {
  dataAdds,
  foreignAdds,
  markConflicts,
  resolveAgainstSilver,
  seedFrom,
} from "./silver_check.ts";
import {
  BRONZE_SCHEMA,
  extrasSelect,
  INGEST_TABLES,
  type IngestTable,
  QUARANTINE_SCHEMA,
  silverSchema,
  tablePath,
} from "./tables.ts";

/** Commit order (see the module comment): silver decides uniqueness, bronze records it. */
const COMMIT_ORDER: readonly IngestTable[] = ["silver", "bronze", "quarantine"];

/** A concurrent silver commit added keys the batch was about to add: rewrite without them. */
class KeysTakenError extends Error {}

const KAFKA_TS = "make_timestamp((s.kts * 1000)::BIGINT)::TIMESTAMPTZ AS kafka_timestamp";
const SOURCE_COLS =
  `a.source, a.topic, a.kafka_partition, s.pos::BIGINT AS kafka_offset, s.key AS kafka_key, ${KAFKA_TS}, a.file, s.payload, s.b64 AS payload_base64`;

/**
 * Per-table projection of the staging views (see batch.ts) into the table schema (`schema`, as
 * the commit leaves it): the relation it reads, the select list and the rows it takes. Bronze
 * reads `staging_messages` (one row per record, with its `readings` and `duplicates`), silver
 * and quarantine `staging` (one row per reading; silver's catalogue columns from its `extras`).
 * `$ingest` is the flush's ingest time.
 */
function projection(
  table: IngestTable,
  schema: TableSchema,
  columns: readonly ExtraColumn[],
): { from: string; select: string; where: string } {
  switch (table) {
    case "bronze":
      return {
        from: "staging_messages",
        select: `${SOURCE_COLS},
      CASE s.status WHEN ${STATUS.valid} THEN 'valid' WHEN ${STATUS.duplicate} THEN 'duplicate' ELSE 'rejected' END AS status,
      $ingest AS ingest_time, s.building, s.type, s.readings, s.duplicates`,
        where: "TRUE",
      };
    case "silver":
      return {
        from: "staging",
        select:
          `make_timestamp((s.ts * 1000)::BIGINT)::TIMESTAMPTZ AS timestamp, s.device_id, s.floor,
      s.value, s.unit, a.label || CAST(s.pos::BIGINT AS VARCHAR) AS source, $ingest AS ingest_time,
      s.building, s.type${extrasSelect(schema, columns)}`,
        where: `s.status = ${STATUS.valid}`,
      };
    case "quarantine":
      return {
        from: "staging",
        select: `s.reason, s.detail, ${SOURCE_COLS}, $ingest AS ingest_time, s.building, s.type`,
        where: `s.status = ${STATUS.rejected}`,
      };
  }
}

export interface FlushResult {
  /** Committed version per table (absent when the table had nothing new). */
  versions: Partial<Record<IngestTable, number>>;
  /** Rows committed per table. */
  rows: Record<IngestTable, number>;
  /** Retries caused by another writer committing the same appId. */
  retries: number;
  /** Seconds per table from its first attempt to its commit (Parquet, commit and retries). */
  seconds: Partial<Record<IngestTable, number>>;
}

export interface WriterOptions {
  lakehouse: string;
  /** Label in commitInfo (e.g. "kafka" or "files") and the streaming query id. */
  queryId: string;
  /** Rewrites after ConcurrentTransactionError before giving up (default 5). */
  maxConflictRetries?: number;
  /** Where schema changes are told (default: nowhere). */
  onLog?: (message: string) => void;
}

/** Owns the table snapshots between flushes and writes batches. */
export class IngestWriter {
  readonly snapshots = new Map<IngestTable, Snapshot>();
  #epoch = 0;
  /** Silver versions this writer committed: never checked against its own batches. */
  readonly #ours = new Set<number>();
  /**
   * The silver version the dedup cache reflects: it was rebuilt at or seeded with every other
   * writer's commit up to here. A batch opened now checks only the commits after it.
   */
  syncedVersion = -1;

  constructor(readonly opts: WriterOptions) {}

  path(table: IngestTable): string {
    return tablePath(this.opts.lakehouse, table);
  }

  /**
   * Starts from snapshots just read (the tables' creation): on an object store a listing taken
   * right after other processes created a table can still miss its first commit.
   */
  adopt(snapshots: Record<IngestTable, Snapshot>): void {
    for (const t of INGEST_TABLES) {
      rememberCheckpointPolicy(snapshots[t]);
      this.snapshots.set(t, snapshots[t]);
    }
  }

  /**
   * Brings every table's snapshot to its latest version. Known snapshots only read the commits
   * after them, so the caught-up check (every 100 ms) and each flush stay cheap however long
   * the table's history is.
   */
  async refresh(): Promise<void> {
    for (const t of INGEST_TABLES) await this.#latest(t);
  }

  async #latest(table: IngestTable): Promise<Snapshot> {
    const prev = this.snapshots.get(table);
    // Without tombstones: compaction adds thousands a day, and this snapshot never needs them.
    const snap = prev
      ? await refreshSnapshot(prev)
      : await loadSnapshot(this.path(table), { tombstones: false });
    // Commits then know the table's checkpoint and log-cleanup policy without a time-travel
    // load of their own (which lists the whole log).
    if (!prev) rememberCheckpointPolicy(snap);
    this.snapshots.set(table, snap);
    return snap;
  }

  /** Txn versions of `appIds` in each table, from the current snapshots. */
  thresholds(appIds: Iterable<string>): Thresholds {
    const out = { bronze: new Map(), silver: new Map(), quarantine: new Map() } as Thresholds;
    for (const appId of appIds) {
      for (const t of INGEST_TABLES) {
        const v = this.snapshots.get(t)?.txnVersion(appId);
        if (v !== undefined) out[t].set(appId, v);
      }
    }
    return out;
  }

  /** The txn appIds any of the tables holds that start with `prefix`. */
  knownAppIds(prefix: string): Set<string> {
    const out = new Set<string>();
    for (const snap of this.snapshots.values()) {
      for (const appId of snap.txns.keys()) if (appId.startsWith(prefix)) out.add(appId);
    }
    return out;
  }

  /**
   * Resume position of an appId: one past the smallest version stored over the three tables
   * (0 when a table never saw it).
   */
  resumePosition(appId: string): number {
    return resumeFromSnapshots(this.snapshots.values(), appId);
  }

  /**
   * Re-reads the tables and marks silver's current version as what the dedup cache reflects
   * (call when the cache has just been rebuilt from that snapshot).
   */
  async resynced(): Promise<Snapshot> {
    await this.refresh();
    this.#ours.clear();
    const silver = this.snapshots.get("silver")!;
    this.syncedVersion = silver.version;
    return silver;
  }

  /** Writes and commits the batch to the three tables, in order. */
  async flush(batch: Batch): Promise<FlushResult> {
    const result: FlushResult = {
      versions: {},
      rows: { bronze: 0, silver: 0, quarantine: 0 },
      retries: 0,
      seconds: {},
    };
    if (batch.lastPosition.size === 0) return result;
    await batch.stage();
    const f: FlushState = {
      batch,
      conn: batch.conn,
      // The batch's catalogue (the latest, after a reload): a column it adds joins silver with
      // this flush's commit; one it no longer lists stays in silver, written NULL.
      columns: batch.catalogue?.columns ?? [],
      epoch: this.#epoch++,
      ingest: new Date().toISOString(),
      checkedThrough: Math.max(batch.baseVersion, -1),
      foreign: [],
      recount: false,
      result,
    };
    for (const table of COMMIT_ORDER) {
      await this.#flushTable(f, table);
      if (table === "silver") await this.#afterSilver(f);
    }
    return result;
  }

  /**
   * One table of a flush: its new rows written and committed, again from the latest snapshot
   * after a conflict another writer caused (up to maxConflictRetries times).
   */
  async #flushTable(f: FlushState, table: IngestTable): Promise<void> {
    const maxRetries = this.opts.maxConflictRetries ?? 5;
    const started = performance.now();
    for (let attempt = 0;; attempt++) {
      const snap = await this.#latest(table);
      if (table === "silver") await checkSilverRivals(f, snap, this.#ours);
      const txns = [...f.batch.lastPosition]
        .filter(([appId, pos]) => pos > (snap.txnVersion(appId) ?? -1))
        .map(([appId, version]) => ({ appId, version }));
      if (txns.length === 0) return;
      const written = await writeTableFiles(f, table, snap, txns);
      try {
        const version = await this.#commitFiles(f, table, snap, written, txns);
        f.result.versions[table] = version;
        f.result.rows[table] = written.rows;
        f.result.seconds[table] = (performance.now() - started) / 1000;
        // Our own commit: resume positions (a file source asks before re-reading a file)
        // must count it at once, not at the next flush.
        await this.#latest(table);
        return;
      } catch (err) {
        await removeUnreferenced(snap, written.adds);
        // A CommitConflictError here is a concurrent schema change (ours or theirs) or a
        // commit that lost every race: the next attempt re-reads the table's metadata.
        const retriable = err instanceof ConcurrentTransactionError ||
          err instanceof KeysTakenError || err instanceof CommitConflictError;
        if (!retriable || attempt >= maxRetries) throw err;
        f.result.retries++;
      }
    }
  }

  /** Commits the files `writeTableFiles` wrote, with the batch's txns; returns the version. */
  async #commitFiles(
    f: FlushState,
    table: IngestTable,
    snap: Snapshot,
    { evolution, adds }: WrittenFiles,
    txns: { appId: string; version: number }[],
  ): Promise<number> {
    const actions = [...evolution.actions, ...adds.map((add) => ({ add }))];
    if (evolution.added.length > 0) {
      this.opts.onLog?.(`${table}: adding column(s) ${evolution.added.join(", ")}`);
    }
    const { version } = await commit(this.path(table), actions, {
      readVersion: snap.version,
      operation: "STREAMING UPDATE",
      operationParameters: {
        outputMode: "Append",
        queryId: this.opts.queryId,
        epochId: f.epoch,
        ...(evolution.added.length > 0 ? { mergeSchema: true } : {}),
      },
      txns,
      isBlindAppend: evolution.actions.length === 0,
      // Delta's conflict detection for uniqueness: a winner that added one of our keys
      // makes our files wrong; the next attempt writes them without it.
      checkWinner: table === "silver"
        ? async (v, actions) => {
          const adds = dataAdds(actions);
          f.checkedThrough = v;
          f.foreign.push(...adds);
          const n = await markConflicts(f.conn, snap, adds);
          taken(f, n);
          if (n > 0) throw new KeysTakenError(`version ${v} added ${n} of the batch's keys`);
        }
        : undefined,
    });
    if (table === "silver") {
      this.#ours.add(version);
      f.checkedThrough = version;
    }
    return version;
  }

  /** After silver's step: counts per source, the dedup cache and the synced version follow. */
  async #afterSilver(f: FlushState): Promise<void> {
    // Test-only (fault_point.ts): the crash between a flush's silver and bronze commits.
    if (f.result.versions.silver !== undefined) faultPoint("silver-commit", "after");
    if (f.recount) await f.batch.recountApps();
    // The cache learns what the other writers added, so later batches skip those commits.
    await seedFrom(f.conn, this.snapshots.get("silver")!, f.foreign, f.batch.dedup);
    this.syncedVersion = Math.max(this.syncedVersion, f.checkedThrough);
    for (const v of this.#ours) if (v <= f.batch.baseVersion) this.#ours.delete(v);
  }
}

/** What one flush carries from table to table (and from attempt to attempt). */
interface FlushState {
  batch: Batch;
  conn: DuckDBConnection;
  columns: readonly ExtraColumn[];
  epoch: number;
  /** The flush's ingest time, the same in every table. */
  ingest: string;
  /** Other writers' silver commits checked against the batch so far, and what they added. */
  checkedThrough: number;
  foreign: AddAction[];
  /** Whether statuses changed in staging since the batch counted them per source. */
  recount: boolean;
  result: FlushResult;
}

/** `n` of the batch's valid readings turned out to be duplicates (another writer had them). */
function taken(f: FlushState, n: number): void {
  f.batch.counts.valid -= n;
  f.batch.counts.duplicates += n;
  if (n > 0) f.recount = true;
}

/**
 * Before writing silver: the keys other writers committed since the batch was checked are
 * marked duplicates here, and readings still unresolved are resolved against the table.
 */
async function checkSilverRivals(f: FlushState, snap: Snapshot, ours: Set<number>): Promise<void> {
  const adds = await foreignAdds(snap.path, f.checkedThrough, snap.version, ours);
  f.checkedThrough = snap.version;
  f.foreign.push(...adds);
  taken(f, await markConflicts(f.conn, snap, adds));
  if (f.batch.counts.unresolved > 0) {
    const r = await resolveAgainstSilver(f.conn, snap);
    f.batch.counts.valid += r.valid;
    f.batch.counts.duplicates += r.duplicates;
    f.batch.counts.unresolved = 0;
    f.recount = true;
  }
}

interface WrittenFiles {
  evolution: ReturnType<typeof evolveTo>;
  adds: AddAction[];
  rows: number;
}

/**
 * Rows below which a table's files of a flush are written in snappy rather than zstd: a caught-up
 * consumer's flushes (a few thousand rows over dozens of partitions) spend most of zstd's time
 * setting up small pages — twice snappy's CPU on the flush, and its latency — for files that
 * compaction by count rewrites in zstd within a few flushes. A backlog's large batches are
 * written in zstd at once (bench/results/flush-codec-2026-12-07.md).
 */
export const SNAPPY_BELOW_ROWS = 20_000;

/** The codec of `table`'s files for this batch, by the rows it will write there. */
function codecFor(batch: Batch, table: IngestTable): ParquetCodec {
  const c = batch.counts;
  const rows = table === "bronze" ? c.records : table === "silver" ? c.valid : c.rejected;
  return rows < SNAPPY_BELOW_ROWS ? "snappy" : "zstd";
}

/** Writes the batch's rows of `table` not yet committed for their appId, as Parquet files. */
async function writeTableFiles(
  f: FlushState,
  table: IngestTable,
  snap: Snapshot,
  txns: { appId: string }[],
): Promise<WrittenFiles> {
  await stageThresholds(f.conn, snap, txns.map((t) => t.appId));
  // Columns the table lacks arrive with these rows, in the same commit.
  const evolution = evolveTo(snap, wantedSchema(table, f.columns));
  const p = projection(table, evolution.snapshot.schema, f.columns);
  const sql = `SELECT ${p.select.replaceAll("$ingest", `TIMESTAMPTZ '${f.ingest}'`)}
    FROM ${p.from} s JOIN staging_apps a ON s.app = a.app JOIN thresholds t ON a.app_id = t.app_id
    WHERE s.pos > t.version AND ${p.where}`;
  const adds = await writeDataFiles(f.conn, evolution.snapshot, sql, {
    compression: codecFor(f.batch, table),
  });
  const rows = adds.reduce((n, a) => n + (a.stats ? JSON.parse(a.stats).numRecords ?? 0 : 0), 0);
  return { evolution, adds, rows };
}

/** Files of a commit that did not happen: never referenced, removed now rather than by vacuum. */
async function removeUnreferenced(snap: Snapshot, adds: AddAction[]): Promise<void> {
  await Promise.all(
    adds.map((a) => {
      const file = joinLocation(snap.path, decodeAddPath(a.path));
      return storageFor(file).delete(file).catch(() => false);
    }),
  );
}

/** The schema `table` is evolved to before rows are written to it. */
export function wantedSchema(table: IngestTable, columns: readonly ExtraColumn[]): TableSchema {
  return table === "silver"
    ? silverSchema(columns)
    : table === "bronze"
    ? BRONZE_SCHEMA
    : QUARANTINE_SCHEMA;
}

/** The committed txn version of each appId in `snap`, as the `thresholds` temp table. */
async function stageThresholds(
  conn: DuckDBConnection,
  snap: Snapshot,
  appIds: string[],
): Promise<void> {
  await conn.run("CREATE OR REPLACE TEMP TABLE thresholds (app_id VARCHAR, version BIGINT)");
  await appendRows(
    conn,
    "thresholds",
    appIds.map((appId) => [appId, BigInt(snap.txnVersion(appId) ?? -1)]),
  );
}
