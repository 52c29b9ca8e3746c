/**
 * Exact deduplication against silver itself, for what the in-memory cache cannot answer.
 *
 * Two things can put a key in silver that the dedup cache (dedup.ts) does not know about:
 * - readings older than the cache covers (a backfill, a resend, a device that lags): staged as
 *   `check`, they are looked up in silver's snapshot, reading only the files whose partition
 *   (building, type) and stats (device_id and timestamp ranges) can hold them;
 * - other writers (another consumer, ingest-files) committing to silver after the cache was
 *   last brought up to date: every valid row of the batch is checked against the files those
 *   commits added (their data changes only: compactions rewrite rows, they add none) — before
 *   writing, and again for each commit this one loses a race to (Delta's conflict detection).
 * Both run in DuckDB over the batch's staging table and cost nothing when there is nothing to
 * check: the live path of a single writer never reads silver.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { type Action, type AddAction, isAdd, parseStats, timeRange } from "../delta/actions.ts";
import { readCommit } from "../delta/log.ts";
import type { Snapshot } from "../delta/snapshot.ts";
import { snapshotScanSql } from "../delta/scan.ts";
import { sqlString } from "../duckdb/engine.ts";
import { decodeAddPath } from "../delta/partition.ts";
import { joinLocation } from "../storage/location.ts";
import { enableLocation } from "../duckdb/s3.ts";
import { STATUS } from "./batch.ts";
import type { DedupState } from "./dedup.ts";

/** The files a commit added with new rows (not a compaction's rewrites). */
export function dataAdds(actions: Action[]): AddAction[] {
  return actions.filter(isAdd).map((a) => a.add).filter((a) => a.dataChange !== false);
}

/** Files added with new rows by the commits in (from, to] that are not in `ours`. */
export async function foreignAdds(
  tablePath: string,
  from: number,
  to: number,
  ours: ReadonlySet<number>,
): Promise<AddAction[]> {
  const out: AddAction[] = [];
  for (let v = from + 1; v <= to; v++) {
    if (!ours.has(v)) out.push(...dataAdds(await readCommit(tablePath, v)));
  }
  return out;
}

/**
 * Turns the batch's valid rows whose key one of `adds` holds into duplicates; returns how many.
 * `snap` gives the table's path and schema (the files need not be in it).
 */
export async function markConflicts(
  conn: DuckDBConnection,
  snap: Snapshot,
  adds: AddAction[],
): Promise<number> {
  if (adds.length === 0) return 0;
  await enableLocation(conn, snap.path);
  const result = await conn.run(
    `UPDATE staging SET status = ${STATUS.duplicate}
     WHERE status = ${STATUS.valid} AND "row" IN (
       SELECT s."row" FROM staging s
       SEMI JOIN (${keysScanSql(snap, adds, false)}) f
         ON f.device_id = s.device_id AND f.type = s.type AND f.ts = s.ts
       WHERE s.status = ${STATUS.valid})`,
  );
  return Number(result.rowsChanged);
}

/**
 * The keys of `files` — device_id, type, ts (ms) and `source` when asked — as ONE read_parquet
 * over them all, each file's type coming from its partition value through a small table.
 * Joining the batch against snapshotScanSql's UNION ALL (a scan per partition) instead ran
 * DuckDB out of its 128 MB at 20 partitions: a join over a union of scans holds far more.
 */
function keysScanSql(
  snap: Snapshot,
  files: AddAction[],
  withSource: boolean,
  range?: [number, number],
): string {
  const source = withSource ? "r.source" : "NULL::VARCHAR AS source";
  if (files.length === 0) {
    return `SELECT NULL::VARCHAR AS device_id, NULL::VARCHAR AS type, NULL::BIGINT AS ts,
      NULL::VARCHAR AS source WHERE false`;
  }
  const paths = files.map((f) => joinLocation(snap.path, decodeAddPath(f.path)));
  const types = files.map((f, i) => {
    const type = f.partitionValues.type;
    return `(${sqlString(paths[i])}, ${type == null ? "NULL" : sqlString(type)})`;
  });
  return `SELECT r.device_id, p.type, epoch_ms(r.timestamp) AS ts, ${source}
    FROM read_parquet([${
    paths.map(sqlString).join(", ")
  }], filename = true, hive_partitioning = false) r
    JOIN (VALUES ${types.join(", ")}) p(path, type) ON p.path = r.filename${
    range
      ? `
    WHERE r.timestamp BETWEEN make_timestamp(${range[0] * 1000}::BIGINT)::TIMESTAMPTZ
      AND make_timestamp(${range[1] * 1000}::BIGINT)::TIMESTAMPTZ`
      : ""
  }`;
}

interface KeyRange {
  device: string;
  min: number;
  max: number;
}

/**
 * Silver files that may hold one of `keys` (per building/type partition, device and time range
 * of the rows to check): partition values first, then the file's device_id and timestamp stats.
 * A file without a bound is kept.
 */
export function candidateFiles(
  snap: Snapshot,
  keys: Map<string, KeyRange[]>,
): AddAction[] {
  for (const ranges of keys.values()) {
    ranges.sort((a, b) => a.device < b.device ? -1 : a.device > b.device ? 1 : 0);
  }
  return snap.files.filter((f) => {
    const ranges = keys.get(partitionKey(f.partitionValues.building, f.partitionValues.type));
    if (!ranges) return false;
    const stats = parseStats(f);
    const lo = stats?.minValues?.device_id;
    const hi = stats?.maxValues?.device_id;
    const t = timeRange(f) ?? [-Infinity, Infinity];
    // First range whose device is >= the file's smallest device.
    let i = 0;
    if (typeof lo === "string") {
      let a = 0, b = ranges.length;
      while (a < b) {
        const m = (a + b) >>> 1;
        if (ranges[m].device < lo) a = m + 1;
        else b = m;
      }
      i = a;
    }
    for (; i < ranges.length; i++) {
      const r = ranges[i];
      if (typeof hi === "string" && r.device > hi) break;
      if (r.max >= t[0] && r.min <= t[1]) return true;
    }
    return false;
  });
}

function partitionKey(building: string | null | undefined, type: string | null | undefined) {
  return `${building ?? ""}\u0000${type ?? ""}`;
}

/**
 * Silver's rows that may hold a key of `relation` (columns building, type, device_id, ts in ms,
 * and `own`: whether that row needs silver's `source` to tell its own earlier write), as SQL
 * with columns device_id, type, ts, source; null when `relation` is empty. Files are pruned by
 * partition, device and time stats, and the time bounds let DuckDB skip row groups; `source`
 * (long strings, the bulk of what a scan holds) is read only when some row is `own`.
 */
export async function silverKeysSql(
  conn: DuckDBConnection,
  snap: Snapshot,
  relation: string,
): Promise<string | null> {
  const keys = new Map<string, KeyRange[]>();
  let lo = Infinity, hi = -Infinity, own = 0;
  const reader = await conn.runAndReadAll(
    `SELECT building, type, device_id, min(ts), max(ts), count(*) FILTER (WHERE own)
     FROM (${relation}) GROUP BY ALL`,
  );
  for (const [building, type, device, min, max, owned] of reader.getRows()) {
    own += Number(owned);
    const k = partitionKey(building as string | null, type as string | null);
    let list = keys.get(k);
    if (!list) keys.set(k, list = []);
    list.push({ device: String(device), min: Number(min), max: Number(max) });
    lo = Math.min(lo, Number(min));
    hi = Math.max(hi, Number(max));
  }
  if (keys.size === 0) return null;
  await enableLocation(conn, snap.path);
  return `(${keysScanSql(snap, candidateFiles(snap, keys), own > 0, [lo, hi])})`;
}

/**
 * Resolves the batch's `check` and `replay` rows against silver's snapshot `snap`: a `check`
 * row is a duplicate when silver, a valid row of the batch or an earlier `check` row of the
 * batch holds its key, else valid; a `replay` row is valid when silver's row for its key came
 * from this very record (its `source`), else a duplicate. Returns how many became each.
 */
export async function resolveAgainstSilver(
  conn: DuckDBConnection,
  snap: Snapshot,
): Promise<{ valid: number; duplicates: number }> {
  const unresolved = `s.status IN (${STATUS.check}, ${STATUS.replay})`;
  const silver = await silverKeysSql(
    conn,
    snap,
    `SELECT s.building, s.type, s.device_id, s.ts, s.status = ${STATUS.replay} AS own
     FROM staging s WHERE ${unresolved}`,
  );
  if (silver === null) return { valid: 0, duplicates: 0 };
  // In steps, each a small temp table: the rows to resolve, their matches in silver, the
  // batch's valid keys, then the verdicts.
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE unresolved AS
     SELECT s."row", s.status, s.device_id, s.type, s.ts,
       a.label || CAST(s.pos::BIGINT AS VARCHAR) AS own_source
     FROM staging s JOIN staging_apps a ON s.app = a.app WHERE ${unresolved}`,
  );
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE silver_hits AS
     SELECT u."row", bool_or(f.source = u.own_source) AS own
     FROM unresolved u JOIN ${silver} f
       ON f.device_id = u.device_id AND f.type = u.type AND f.ts = u.ts
     GROUP BY u."row"`,
  );
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE batch_valid AS
     SELECT DISTINCT device_id, type, ts FROM staging WHERE status = ${STATUS.valid}`,
  );
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE resolved AS
     WITH firsts AS (
       SELECT u."row" FROM unresolved u
       ANTI JOIN silver_hits h ON h."row" = u."row"
       ANTI JOIN batch_valid v ON v.device_id = u.device_id AND v.type = u.type AND v.ts = u.ts
       WHERE u.status = ${STATUS.check}
       QUALIFY row_number() OVER (PARTITION BY u.device_id, u.type, u.ts ORDER BY u."row") = 1)
     SELECT u."row", CASE
         WHEN u.status = ${STATUS.replay} AND coalesce(h.own, false) THEN ${STATUS.valid}
         WHEN u.status = ${STATUS.check} AND f."row" IS NOT NULL THEN ${STATUS.valid}
         ELSE ${STATUS.duplicate} END AS status
     FROM unresolved u LEFT JOIN silver_hits h ON h."row" = u."row"
     LEFT JOIN firsts f ON f."row" = u."row"`,
  );
  await conn.run(
    `UPDATE staging SET status = r.status FROM resolved r WHERE staging."row" = r."row"`,
  );
  const counts = await conn.runAndReadAll(
    `SELECT count(*) FILTER (WHERE status = ${STATUS.valid}),
       count(*) FILTER (WHERE status = ${STATUS.duplicate}) FROM resolved`,
  );
  const [valid, duplicates] = counts.getRows()[0];
  return { valid: Number(valid), duplicates: Number(duplicates) };
}

/**
 * Brings the dedup cache up to date with rows other writers added (`adds`): what it covers of
 * them is seeded, so later batches need not check against those commits again.
 */
export async function seedFrom(
  conn: DuckDBConnection,
  snap: Snapshot,
  adds: AddAction[],
  dedup: DedupState,
): Promise<void> {
  if (adds.length === 0) return;
  await enableLocation(conn, snap.path);
  const result = await conn.stream(
    `SELECT device_id, type, epoch_ms(timestamp) FROM (${snapshotScanSql(snap, adds)})`,
  );
  for (
    let chunk = await result.fetchChunk();
    chunk && chunk.rowCount > 0;
    chunk = await result.fetchChunk()
  ) {
    for (const [device, type, ts] of chunk.getRows()) {
      dedup.seed(String(device), String(type), Number(ts));
    }
  }
}
