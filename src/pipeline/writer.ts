/**
 * Flushes a batch into bronze, silver and quarantine, exactly once.
 *
 * Invariant: a table holds every position of an appId up to its stored txn version and none
 * above. Each table's commit carries, atomically with its files, one txn per appId of the
 * batch (version = last position). Rows are filtered against the txn versions of a snapshot
 * read just before writing — so positions another process committed meanwhile are dropped —
 * and the Delta commit fails with ConcurrentTransactionError if a txn for the same appId lands
 * after that snapshot; we then re-read and write again. Tables are committed in the order
 * bronze, silver, quarantine, so after a crash bronze ≥ silver ≥ quarantine and the source
 * resumes from the smallest.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { ConcurrentTransactionError } from "../delta/errors.ts";
import { rememberCheckpointPolicy } from "../delta/checkpoint.ts";
import { commit } from "../delta/commit.ts";
import { loadSnapshot, refreshSnapshot, type Snapshot } from "../delta/snapshot.ts";
import { writeDataFiles } from "../delta/table.ts";
import { decodeAddPath } from "../delta/partition.ts";
import { resumeFromSnapshots } from "./positions.ts";
import { appendRows } from "../duckdb/engine.ts";
import { joinLocation } from "../storage/location.ts";
import { storageFor } from "../storage/storage.ts";
import { type Batch, STATUS, type Thresholds } from "./batch.ts";
import { INGEST_TABLES, type IngestTable, tablePath } from "./tables.ts";

const KAFKA_TS = "make_timestamp((s.kts * 1000)::BIGINT)::TIMESTAMPTZ AS kafka_timestamp";
const SOURCE_COLS =
  `a.source, a.topic, a.kafka_partition, s.pos::BIGINT AS kafka_offset, s.key AS kafka_key, ${KAFKA_TS}, a.file, s.payload, s.b64 AS payload_base64`;

/**
 * Per-table projection of the staging table (see batch.ts) into the table schema, and the rows
 * it takes. `$ingest` is the flush's ingest time.
 */
const PROJECTIONS: Record<IngestTable, { select: string; where: string }> = {
  bronze: {
    select: `${SOURCE_COLS},
      CASE s.status WHEN ${STATUS.valid} THEN 'valid' WHEN ${STATUS.duplicate} THEN 'duplicate' ELSE 'rejected' END AS status,
      $ingest AS ingest_time, s.building, s.type`,
    where: "TRUE",
  },
  silver: {
    select: `make_timestamp((s.ts * 1000)::BIGINT)::TIMESTAMPTZ AS timestamp, s.device_id, s.floor,
      s.value, s.unit, a.label || CAST(s.pos::BIGINT AS VARCHAR) AS source, $ingest AS ingest_time,
      s.building, s.type`,
    where: `s.status = ${STATUS.valid}`,
  },
  quarantine: {
    select: `s.reason, s.detail, ${SOURCE_COLS}, $ingest AS ingest_time, s.building, s.type`,
    where: `s.status = ${STATUS.rejected}`,
  },
};

export interface FlushResult {
  /** Committed version per table (absent when the table had nothing new). */
  versions: Partial<Record<IngestTable, number>>;
  /** Rows committed per table. */
  rows: Record<IngestTable, number>;
  /** Retries caused by another writer committing the same appId. */
  retries: number;
}

export interface WriterOptions {
  lakehouse: string;
  /** Label in commitInfo (e.g. "kafka" or "files") and the streaming query id. */
  queryId: string;
  /** Rewrites after ConcurrentTransactionError before giving up (default 5). */
  maxConflictRetries?: number;
}

/** Owns the table snapshots between flushes and writes batches. */
export class IngestWriter {
  readonly snapshots = new Map<IngestTable, Snapshot>();
  #epoch = 0;

  constructor(readonly opts: WriterOptions) {}

  path(table: IngestTable): string {
    return tablePath(this.opts.lakehouse, table);
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

  /**
   * Resume position of an appId: one past the smallest version stored over the three tables
   * (0 when a table never saw it).
   */
  resumePosition(appId: string): number {
    return resumeFromSnapshots(this.snapshots.values(), appId);
  }

  /** Writes and commits the batch to the three tables, in order. */
  async flush(batch: Batch): Promise<FlushResult> {
    const result: FlushResult = {
      versions: {},
      rows: { bronze: 0, silver: 0, quarantine: 0 },
      retries: 0,
    };
    if (batch.lastPosition.size === 0) return result;
    await batch.stage();
    const conn = batch.conn;
    const epoch = this.#epoch++;
    const ingest = new Date().toISOString();
    for (const table of INGEST_TABLES) {
      const maxRetries = this.opts.maxConflictRetries ?? 5;
      for (let attempt = 0;; attempt++) {
        const snap = await this.#latest(table);
        const txns = [...batch.lastPosition]
          .filter(([appId, pos]) => pos > (snap.txnVersion(appId) ?? -1))
          .map(([appId, version]) => ({ appId, version }));
        if (txns.length === 0) break;
        await stageThresholds(conn, snap, txns.map((t) => t.appId));
        const p = PROJECTIONS[table];
        const sql = `SELECT ${p.select.replaceAll("$ingest", `TIMESTAMPTZ '${ingest}'`)}
          FROM staging s JOIN staging_apps a ON s.app = a.app JOIN thresholds t ON a.app_id = t.app_id
          WHERE s.pos > t.version AND ${p.where}`;
        const adds = await writeDataFiles(conn, snap, sql);
        const rows = adds.reduce(
          (n, a) => n + (a.stats ? JSON.parse(a.stats).numRecords ?? 0 : 0),
          0,
        );
        try {
          const { version } = await commit(this.path(table), adds.map((add) => ({ add })), {
            readVersion: snap.version,
            operation: "STREAMING UPDATE",
            operationParameters: {
              outputMode: "Append",
              queryId: this.opts.queryId,
              epochId: epoch,
            },
            txns,
            isBlindAppend: true,
          });
          result.versions[table] = version;
          result.rows[table] = rows;
          // Our own commit: resume positions (a file source asks before re-reading a file)
          // must count it at once, not at the next flush.
          await this.#latest(table);
          break;
        } catch (err) {
          // Our files were never referenced: remove them now rather than wait for vacuum.
          await Promise.all(
            adds.map((a) => {
              const file = joinLocation(snap.path, decodeAddPath(a.path));
              return storageFor(file).delete(file).catch(() => false);
            }),
          );
          if (!(err instanceof ConcurrentTransactionError) || attempt >= maxRetries) throw err;
          result.retries++;
        }
      }
    }
    return result;
  }
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
