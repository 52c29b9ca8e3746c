/**
 * Quarantine replay: re-decode the quarantined payloads of one reason under the current sensor
 * catalogue and move the readings that are now valid into silver — once.
 *
 * Why it is safe to run again, concurrently, or after a SIGKILL:
 * - Each admitted reading is written to silver with the `source` of its original record
 *   (`kafka:<topic>:<partition>:<offset>` / `file:<path>:<position>`). Before writing, every
 *   candidate is looked up in silver by its key (device_id, type, timestamp): silver holding the
 *   key with the SAME source means an earlier run wrote it and died before cleaning quarantine,
 *   so it counts as admitted and is only removed from quarantine; with another source it is a
 *   duplicate and stays in quarantine (as it would have been counted at ingest).
 * - The silver commit carries `txn(appId = replay-<hash of reason and since>, version = the
 *   quarantine version read)`: two replays of the same selection racing each other conflict
 *   (ConcurrentTransactionError) and the loser starts over, finding the winner's rows.
 * - Then one quarantine commit removes the files holding the admitted rows and adds them back
 *   without those rows (remove + add, dataChange=true), so
 *   `sum(bronze.readings) = count(silver) + count(quarantine) + sum(bronze.duplicates)` holds
 *   after the replay. A concurrent compaction of the same files makes that commit conflict: the
 *   replay starts over (silver already holds its rows, so only the cleanup is left).
 *
 * Rows still rejected are left as they are (their stored reason is the one they were
 * quarantined with); the summary counts them by the reason the current catalogue gives.
 *
 * @module
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { createHash } from "node:crypto";
import { type AddAction, mayHoldTime, parseStats, removeAction } from "../delta/actions.ts";
import type { Action } from "../delta/actions.ts";
import { commit } from "../delta/commit.ts";
import { CommitConflictError, ConcurrentTransactionError } from "../delta/errors.ts";
import { evolveTo } from "../delta/evolution.ts";
import { decodeAddPath } from "../delta/partition.ts";
import { writeDataFiles } from "../delta/parquet_writer.ts";
import { loadSnapshot, type Snapshot } from "../delta/snapshot.ts";
import { appendRows, openDuckDB, sqlString } from "../duckdb/engine.ts";
import { enableLocation } from "../duckdb/s3.ts";
import type { SensorCatalogue } from "../reading/catalogue.ts";
import { decodeMessage, type DecodeResult } from "../reading/decode.ts";
import { joinLocation } from "../storage/location.ts";
import { storageFor } from "../storage/storage.ts";
import { silverKeysSql } from "./silver_check.ts";
import { extrasSelect, silverSchema, tablePath } from "./tables.ts";

/** Options of replayQuarantine. */
export interface ReplayOptions {
  lakehouse: string;
  /** The quarantine reason to replay (exact, e.g. `unknown_type`, `missing_field:device_id`). */
  reason: string;
  /** Only rows quarantined (ingest_time) at or after this instant. */
  since?: Date;
  /** The catalogue to decode with (the current one). */
  catalogue: SensorCatalogue;
  /** As the ingest's `--max-payload-bytes` (default 1 MiB). */
  maxPayloadBytes?: number;
  /** As the ingest's `--future-tolerance`, ms (default 5 minutes), against the replay's clock. */
  futureToleranceMs?: number;
  /** Progress lines. */
  onProgress?: (message: string) => void;
  /** Fault injection for tests: called after the silver commit, before quarantine is cleaned. */
  afterSilverCommit?: () => void | Promise<void>;
  /** Start-overs after a concurrent commit before giving up (default 5). */
  maxAttempts?: number;
}

/** What a replay did. */
export interface ReplaySummary {
  reason: string;
  since: string | null;
  /** Quarantined rows with the reason (and since) that were looked at. */
  scanned: number;
  /** Readings now in silver and out of quarantine (including `resumed`). */
  admitted: number;
  /** Of `admitted`: already written to silver by an interrupted earlier run. */
  resumed: number;
  /** Valid now, but silver (or an earlier row of the same replay) already holds the key. */
  duplicates: number;
  /** Still rejected under the current catalogue, by the reason it gives now. */
  stillRejected: Record<string, number>;
  silverVersion: number | null;
  quarantineVersion: number | null;
}

/** Ingest's default payload limit (INGEST_MAX_PAYLOAD_BYTES), so a replay decodes alike. */
const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/** The txn appId of a replay selection: the same reason and since always give the same id. */
export function replayAppId(reason: string, since?: Date): string {
  const key = `${reason}\u0000${since?.toISOString() ?? ""}`;
  return `replay-${createHash("sha256").update(key).digest("hex").slice(0, 16)}`;
}

/** A quarantine file may hold rows of `reason` (by its string stats) and time (ingest_time). */
function mayHold(add: AddAction, reason: string, since?: Date): boolean {
  const s = parseStats(add);
  const lo = s?.minValues?.reason, hi = s?.maxValues?.reason;
  if (typeof lo === "string" && reason < lo) return false;
  if (typeof hi === "string" && reason > hi) return false;
  return since === undefined || mayHoldTime(add, since.getTime(), Infinity, "ingest_time");
}

/** One quarantined row, as read for the replay. */
interface QuarantinedRow {
  path: string;
  rowNumber: bigint;
  type: string | null;
  label: string;
  payload: string | Uint8Array;
}

async function readQuarantined(
  conn: DuckDBConnection,
  snap: Snapshot,
  reason: string,
  since?: Date,
): Promise<{ rows: QuarantinedRow[]; files: Map<string, AddAction> }> {
  const files = new Map<string, AddAction>();
  for (const f of snap.files) {
    if (mayHold(f, reason, since)) files.set(joinLocation(snap.path, decodeAddPath(f.path)), f);
  }
  if (files.size === 0) return { rows: [], files };
  await enableLocation(conn, snap.path);
  await conn.run("CREATE OR REPLACE TEMP TABLE replay_files (path VARCHAR, type VARCHAR)");
  await appendRows(
    conn,
    "replay_files",
    [...files].map(([path, f]) => [path, f.partitionValues.type ?? null]),
  );
  const reader = await conn.runAndReadAll(
    `SELECT r.filename, r.file_row_number, p.type, r.source, r.topic, r.kafka_partition,
       r.kafka_offset, r.file, r.payload, r.payload_base64
     FROM read_parquet([${
      [...files.keys()].map(sqlString).join(", ")
    }], filename = true, file_row_number = true, hive_partitioning = false) r
     JOIN replay_files p ON p.path = r.filename
     WHERE r.reason = $1 AND ($2::TIMESTAMPTZ IS NULL OR r.ingest_time >= $2::TIMESTAMPTZ)
     ORDER BY r.ingest_time, r.filename, r.file_row_number`,
    [reason, since?.toISOString() ?? null],
  );
  const rows = reader.getRows().map(
    ([path, rowNumber, type, source, topic, partition, offset, file, payload, b64]) => ({
      path: String(path),
      rowNumber: BigInt(rowNumber as bigint),
      type: type as string | null,
      // The label silver's `source` gets, as the ingest writes it (writer.ts, batch.ts).
      label: source === "kafka"
        ? `kafka:${topic}:${partition}:${offset}`
        : `file:${file}:${offset}`,
      payload: b64 == null
        ? String(payload ?? "")
        : Uint8Array.from(atob(String(b64)), (c) => c.charCodeAt(0)),
    }),
  );
  return { rows, files };
}

/**
 * The outcome for a quarantined row: the reading of its own type when its payload is wide
 * (each rejected reading of a wide message is a row of its own, in its type's partition),
 * else the payload's single outcome. A wide payload whose key is no longer a catalogue type
 * has no reading of that type left: `unknown_type`.
 */
function outcomeFor(row: QuarantinedRow, outcomes: DecodeResult[]): DecodeResult {
  if (outcomes.length === 1) return outcomes[0];
  const own = outcomes.find((o) => o.hints.type === row.type);
  return own ?? {
    ok: false,
    reason: "unknown_type",
    detail: `the payload no longer carries a reading of type ${row.type}`,
    hints: { building: null, type: row.type },
  };
}

/** Re-decodes the rows and stages the valid ones in `replay_rows`; returns the rejects. */
async function decodeAndStage(
  conn: DuckDBConnection,
  rows: QuarantinedRow[],
  opts: ReplayOptions,
): Promise<{ staged: number; stillRejected: Record<string, number> }> {
  const stillRejected: Record<string, number> = {};
  const staged: (string | number | bigint | null)[][] = [];
  const decodeOpts = {
    catalogue: opts.catalogue,
    maxBytes: opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    futureToleranceMs: opts.futureToleranceMs,
    nowMs: Date.now(),
  };
  const outcomes: DecodeResult[] = [];
  rows.forEach((row, ord) => {
    const o = outcomeFor(row, decodeMessage(row.payload, decodeOpts, outcomes));
    if (!o.ok) {
      stillRejected[o.reason] = (stillRejected[o.reason] ?? 0) + 1;
      return;
    }
    const r = o.reading;
    staged.push([
      ord,
      row.path,
      row.rowNumber,
      BigInt(r.timestamp),
      r.deviceId,
      r.floor,
      // As text: the appender takes JS numbers as integers; the cast back is exact.
      String(r.value),
      r.unit,
      row.label,
      r.building,
      r.type,
      o.extras === null ? null : JSON.stringify(o.extras),
    ]);
  });
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE replay_rows (ord INTEGER, path VARCHAR, rn BIGINT, ts BIGINT,
      device_id VARCHAR, floor INTEGER, value VARCHAR, unit VARCHAR, source VARCHAR,
      building VARCHAR, type VARCHAR, extras VARCHAR)`,
  );
  await appendRows(conn, "replay_rows", staged);
  return { staged: staged.length, stillRejected };
}

/**
 * Decides each staged reading against silver into `replay_verdicts`: `resumed` (silver holds
 * it from this very record), `duplicate` (silver, or an earlier row of this replay, holds the
 * key) or `admit`.
 */
async function judge(conn: DuckDBConnection, silver: Snapshot): Promise<void> {
  const keys = await silverKeysSql(
    conn,
    silver,
    "SELECT building, type, device_id, ts, true AS own FROM replay_rows",
  );
  const hits = keys ??
    "(SELECT NULL::VARCHAR AS device_id, NULL::VARCHAR AS type, NULL::BIGINT AS ts, NULL::VARCHAR AS source WHERE false)";
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE replay_verdicts AS
     WITH hits AS (
       SELECT r.ord, bool_or(f.source = r.source) AS own
       FROM replay_rows r JOIN ${hits} f
         ON f.device_id = r.device_id AND f.type = r.type AND f.ts = r.ts
       GROUP BY r.ord)
     SELECT r.*, CASE
         WHEN h.own THEN 'resumed'
         WHEN h.ord IS NOT NULL THEN 'duplicate'
         WHEN row_number() OVER (PARTITION BY r.device_id, r.type, r.ts ORDER BY r.ord) > 1
           THEN 'duplicate'
         ELSE 'admit' END AS verdict
     FROM replay_rows r LEFT JOIN hits h ON h.ord = r.ord`,
  );
}

async function verdictCounts(conn: DuckDBConnection): Promise<Record<string, number>> {
  const rows = (await conn.runAndReadAll(
    "SELECT verdict, count(*) FROM replay_verdicts GROUP BY verdict",
  )).getRows();
  return Object.fromEntries(rows.map(([v, n]) => [String(v), Number(n)]));
}

/** Deletes `paths` (files written for a commit that did not happen). */
async function deleteFiles(root: string, adds: AddAction[]): Promise<void> {
  await Promise.all(adds.map((a) => {
    const file = joinLocation(root, decodeAddPath(a.path));
    return storageFor(file).delete(file).catch(() => false);
  }));
}

/** Appends the `admit` rows to silver (evolved to the catalogue's columns) with the txn. */
async function commitToSilver(
  conn: DuckDBConnection,
  silver: Snapshot,
  opts: ReplayOptions,
  txn: { appId: string; version: number },
): Promise<number> {
  const evolution = evolveTo(silver, silverSchema(opts.catalogue.columns));
  const ingest = new Date().toISOString();
  const adds = await writeDataFiles(
    conn,
    evolution.snapshot,
    `SELECT make_timestamp(v.ts * 1000)::TIMESTAMPTZ AS timestamp, v.device_id, v.floor,
       v.value::DOUBLE AS value, v.unit, v.source, TIMESTAMPTZ '${ingest}' AS ingest_time,
       v.building, v.type${
      extrasSelect(evolution.snapshot.schema, opts.catalogue.columns, "v.extras")
    }
     FROM replay_verdicts v WHERE v.verdict = 'admit'`,
  );
  try {
    const actions: Action[] = [...evolution.actions, ...adds.map((add) => ({ add }))];
    const { version } = await commit(silver.path, actions, {
      readVersion: silver.version,
      operation: "WRITE",
      operationParameters: {
        mode: "Append",
        replay: opts.reason,
        ...(evolution.added.length ? { mergeSchema: true } : {}),
      },
      txns: [txn],
      isBlindAppend: evolution.actions.length === 0,
    });
    return version;
  } catch (err) {
    await deleteFiles(silver.path, adds);
    throw err;
  }
}

/**
 * Removes the admitted rows from quarantine: each file holding one is removed and, unless all
 * its rows go, added back as a new file without them — one commit.
 */
async function cleanQuarantine(
  conn: DuckDBConnection,
  quarantine: Snapshot,
  files: Map<string, AddAction>,
  reason: string,
): Promise<number | null> {
  const byFile = (await conn.runAndReadAll(
    `SELECT path, count(*) FROM replay_verdicts WHERE verdict IN ('admit', 'resumed')
     GROUP BY path ORDER BY path`,
  )).getRows().map(([p, n]) => [String(p), Number(n)] as const);
  if (byFile.length === 0) return null;
  const actions: Action[] = [];
  const written: AddAction[] = [];
  const now = Date.now();
  try {
    for (const [path, gone] of byFile) {
      const add = files.get(path)!;
      actions.push(removeAction(add, true, now));
      const records = parseStats(add)?.numRecords;
      if (records !== undefined && records === gone) continue;
      const adds = await writeDataFiles(
        conn,
        quarantine,
        `SELECT * EXCLUDE (file_row_number)
         FROM read_parquet(${sqlString(path)}, file_row_number = true, hive_partitioning = false)
         WHERE file_row_number NOT IN (
           SELECT rn FROM replay_verdicts
           WHERE path = ${sqlString(path)} AND verdict IN ('admit', 'resumed'))`,
        { fixedPartition: { ...add.partitionValues } },
      );
      written.push(...adds);
      for (const a of adds) actions.push({ add: a });
    }
    const { version } = await commit(quarantine.path, actions, {
      readVersion: quarantine.version,
      operation: "DELETE",
      operationParameters: { predicate: JSON.stringify(`replayed rows of reason ${reason}`) },
      isBlindAppend: false,
    });
    return version;
  } catch (err) {
    await deleteFiles(quarantine.path, written);
    throw err;
  }
}

/** Replays the quarantined rows of `opts.reason` (see the module comment). */
export async function replayQuarantine(opts: ReplayOptions): Promise<ReplaySummary> {
  const silverPath = tablePath(opts.lakehouse, "silver");
  const quarantinePath = tablePath(opts.lakehouse, "quarantine");
  const appId = replayAppId(opts.reason, opts.since);
  const log = opts.onProgress ?? (() => {});
  const db = await openDuckDB({ delta: false });
  try {
    for (let attempt = 1;; attempt++) {
      try {
        return await replayOnce(db.conn, opts, { silverPath, quarantinePath, appId, log });
      } catch (err) {
        const again = err instanceof ConcurrentTransactionError ||
          err instanceof CommitConflictError;
        if (!again || attempt >= (opts.maxAttempts ?? 5)) throw err;
        log(`replay: a concurrent commit (${(err as Error).message}); starting over`);
      }
    }
  } finally {
    db.close();
  }
}

async function replayOnce(
  conn: DuckDBConnection,
  opts: ReplayOptions,
  ctx: { silverPath: string; quarantinePath: string; appId: string; log: (m: string) => void },
): Promise<ReplaySummary> {
  const quarantine = await loadSnapshot(ctx.quarantinePath, { tombstones: false });
  const silver = await loadSnapshot(ctx.silverPath, { tombstones: false });
  const { rows, files } = await readQuarantined(conn, quarantine, opts.reason, opts.since);
  ctx.log(
    `replay: ${rows.length} quarantined rows with reason ${opts.reason} ` +
      `(quarantine version ${quarantine.version}, ${files.size} candidate files)`,
  );
  const { stillRejected } = await decodeAndStage(conn, rows, opts);
  await judge(conn, silver);
  const counts = await verdictCounts(conn);
  const admit = counts.admit ?? 0, resumed = counts.resumed ?? 0;
  let silverVersion: number | null = null;
  if (admit > 0) {
    silverVersion = await commitToSilver(conn, silver, opts, {
      appId: ctx.appId,
      version: quarantine.version,
    });
    ctx.log(`replay: silver version ${silverVersion} holds ${admit} admitted readings`);
    await opts.afterSilverCommit?.();
  }
  const quarantineVersion = await cleanQuarantine(conn, quarantine, files, opts.reason);
  if (quarantineVersion !== null) {
    ctx.log(`replay: quarantine version ${quarantineVersion} no longer holds them`);
  }
  return {
    reason: opts.reason,
    since: opts.since?.toISOString() ?? null,
    scanned: rows.length,
    admitted: admit + resumed,
    resumed,
    duplicates: counts.duplicate ?? 0,
    stillRejected,
    silverVersion,
    quarantineVersion,
  };
}

/** The summary as people read it (the CLI's stdout). */
export function formatReplaySummary(s: ReplaySummary): string {
  const rejected = Object.entries(s.stillRejected).sort((a, b) => b[1] - a[1]);
  const total = rejected.reduce((n, [, c]) => n + c, 0);
  return [
    `replay of reason ${s.reason}${
      s.since ? ` since ${s.since}` : ""
    }: ${s.scanned} quarantined rows`,
    `  admitted to silver:         ${s.admitted}${
      s.resumed ? ` (${s.resumed} finishing an interrupted replay)` : ""
    }`,
    `  already in silver (dupes):  ${s.duplicates} (kept in quarantine)`,
    `  still rejected:             ${total}${
      rejected.length ? ` (${rejected.map(([r, n]) => `${r}: ${n}`).join(", ")})` : ""
    }`,
  ].join("\n");
}
