/**
 * Delta layer benchmarks (commit, checkpoint, snapshot load and optimize figures; not tests). Each function builds its own table
 * in a temp dir, removes it afterwards and returns one number. The harness that records them
 * lives elsewhere; `deno run ... bench/delta_bench.ts` prints them all.
 */
import { join } from "node:path";
import { joinLocation } from "../src/storage/location.ts";
import { storageFor } from "../src/storage/storage.ts";
import { openDuckDB } from "../src/duckdb/engine.ts";
import {
  appendQuery,
  commit,
  createTable,
  loadSnapshot,
  type TableSchema,
  writeCheckpoint,
} from "../src/delta/table.ts";
import { clearSnapshotCaches } from "../src/delta/snapshot.ts";
import { commitPath } from "../src/delta/log.ts";
import { cleanupExpiredLog, DEFAULT_LOG_RETENTION_MS } from "../src/delta/log_cleanup.ts";

const SCHEMA: TableSchema = {
  fields: [
    { name: "timestamp", type: "timestamp", nullable: false },
    { name: "device_id", type: "string", nullable: false },
    { name: "floor", type: "integer", nullable: true },
    { name: "value", type: "double", nullable: true },
    { name: "building", type: "string", nullable: true },
    { name: "type", type: "string", nullable: true },
  ],
};
const PARTS = ["building", "type"];

/**
 * Runs `fn` on a fresh table: in a temp dir, or under `base` (an `s3://` prefix: the table and
 * everything under it are deleted afterwards).
 */
async function withTable<T>(fn: (path: string) => Promise<T>, base?: string): Promise<T> {
  const dir = base
    ? joinLocation(base, `delta_bench_${crypto.randomUUID().slice(0, 8)}`)
    : await Deno.makeTempDir({ prefix: "delta_bench_" });
  try {
    const path = joinLocation(dir, "t");
    await createTable(path, { schema: SCHEMA, partitionColumns: PARTS });
    return await fn(path);
  } finally {
    if (base) {
      const storage = storageFor(dir);
      for (const o of await storage.list(dir, { recursive: true })) {
        await storage.delete(o.location);
      }
    } else {
      await Deno.remove(dir, { recursive: true });
    }
  }
}

/**
 * Append throughput in rows/s: one append of `rows` rows (8 buildings x 4 types), to a local
 * table or one under `base` (`s3://…`).
 */
export async function benchAppend(rows: number, base?: string): Promise<number> {
  return await withTable(async (path) => {
    const db = await openDuckDB({ delta: false });
    try {
      await db.conn.run(`CREATE TEMP TABLE src AS SELECT
        TIMESTAMP '2025-12-15' + to_microseconds(i * 997) AS timestamp, 'dev-' || (i % 500) AS device_id,
        i % 12 AS floor, (i % 10000) / 7.0 AS value, 'B' || (i % 8) AS building,
        ['temp', 'humidity', 'co2', 'energy'][1 + (i // 8) % 4] AS type FROM range(${rows}) r(i)`);
      const t0 = performance.now();
      await appendQuery(db.conn, path, "SELECT * FROM src");
      return rows / ((performance.now() - t0) / 1000);
    } finally {
      db.close();
    }
  }, base);
}

/**
 * Mean latency in ms of `n` sequential commits of one add each (checkpoints included), to a
 * local table or one under `base` (`s3://…`).
 */
export async function benchCommitLatency(n: number, base?: string): Promise<number> {
  return await withTable(async (path) => {
    // The files exist before timing starts: what is timed is the commit, syncs included.
    const adds = base
      ? await Promise.all(Array.from({ length: n }, (_, i) => fakeRemoteAdd(path, i + 1)))
      : Array.from({ length: n }, (_, i) => fakeAdd(path, i + 1));
    const t0 = performance.now();
    for (let v = 1; v <= n; v++) {
      await commit(path, [{ add: adds[v - 1] }], {
        readVersion: v - 1,
        operation: "WRITE",
        txns: [{ appId: "bench-0", version: v }],
        isBlindAppend: true,
      });
    }
    return (performance.now() - t0) / n;
  }, base);
}

/** An add of a small file it creates in the table: commit syncs every file it adds. */
function fakeAdd(table: string, v: number, write = true) {
  const dir = `building=B${v % 8}/type=temp`;
  const path = `${dir}/part-${crypto.randomUUID()}.zstd.parquet`;
  if (write) {
    Deno.mkdirSync(join(table, dir), { recursive: true });
    Deno.writeFileSync(join(table, path), new Uint8Array(1000 + v));
  }
  return {
    path,
    partitionValues: { building: `B${v % 8}`, type: "temp" },
    size: 1000 + v,
    modificationTime: Date.now(),
    dataChange: true,
    stats: JSON.stringify({ numRecords: 10, minValues: {}, maxValues: {}, nullCount: {} }),
  };
}

/** fakeAdd for a table on object storage: the file is PUT first. */
async function fakeRemoteAdd(table: string, v: number) {
  const add = fakeAdd("", v, false);
  await storageFor(table).put(joinLocation(table, add.path), new Uint8Array(add.size));
  return add;
}

/** Commits versions 1..commits-1 of one add each to the table at `path` (no checkpoints). */
async function fillLog(path: string, commits: number): Promise<void> {
  for (let v = 1; v < commits; v++) {
    await commit(path, [{ add: fakeAdd(path, v) }], {
      readVersion: v - 1,
      operation: "WRITE",
      txns: [{ appId: `bench-${v % 16}`, version: v }],
      skipCheckpoint: true,
    });
  }
}

/**
 * Cold snapshot load time in ms (median of 3) of a table with `commits` versions, each adding
 * one file, checkpointed every 10 (the last checkpoint <= latest, then up to 9 JSON commits).
 */
export async function benchSnapshotLoad(commits: number): Promise<number> {
  return await withTable(async (path) => {
    await fillLog(path, commits);
    const latest = commits - 1;
    await writeCheckpoint(path, { version: latest - (latest % 10) });
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      clearSnapshotCaches();
      const t0 = performance.now();
      const snap = await loadSnapshot(path);
      times.push(performance.now() - t0);
      if (snap.version !== latest || snap.files.length !== latest) {
        throw new Error(
          `bench table is wrong: version ${snap.version}, ${snap.files.length} files`,
        );
      }
    }
    return times.sort((a, b) => a - b)[1];
  });
}

/** What log cleanup costs (benchLogCleanup). */
export interface LogCleanupBench {
  /** Files deleted until a pass completed, the passes it took, and the time per file. */
  deleted: number;
  passes: number;
  usPerFile: number;
  /** A pass with nothing left to delete (what a steady writer pays every 10 minutes). */
  idleMs: number;
}

/**
 * Log cleanup over a table of `commits` versions checkpointed every tenth, the oldest 90 % of
 * its commits past the retention: passes (100 ms each at most) until everything expired is
 * gone, then one with nothing to do.
 */
export async function benchLogCleanup(commits: number): Promise<LogCleanupBench> {
  return await withTable(async (path) => {
    await fillLog(path, commits);
    const every = Math.max(10, Math.floor(commits / 10));
    for (let v = every; v < commits; v += every) await writeCheckpoint(path, { version: v });
    const old = new Date(Date.now() - 40 * 86_400_000);
    for (let v = 0; v < commits * 0.9; v++) await Deno.utime(commitPath(path, v), old, old);
    const opts = { latest: commits - 1, retentionMs: DEFAULT_LOG_RETENTION_MS };
    let deleted = 0, passes = 0, ms = 0;
    for (let complete = false; !complete;) {
      const t0 = performance.now();
      const r = await cleanupExpiredLog(path, opts);
      ms += performance.now() - t0;
      passes++;
      deleted += r.commitsDeleted + r.checkpointsDeleted;
      complete = r.complete;
    }
    const t0 = performance.now();
    const idle = await cleanupExpiredLog(path, opts);
    const idleMs = performance.now() - t0;
    if (deleted === 0 || idle.commitsDeleted !== 0) {
      throw new Error(
        `bench log cleanup is wrong: ${deleted} deleted, then ${idle.commitsDeleted}`,
      );
    }
    return { deleted, passes, usPerFile: (ms * 1000) / deleted, idleMs };
  });
}

if (import.meta.main) {
  const rows = Number(Deno.args[0] ?? 1_000_000);
  console.log(`append ${rows} rows: ${Math.round(await benchAppend(rows))} rows/s`);
  console.log(`commit latency: ${(await benchCommitLatency(200)).toFixed(2)} ms/commit`);
  console.log(`snapshot load at 10000 commits: ${(await benchSnapshotLoad(10_000)).toFixed(1)} ms`);
  console.log(`log cleanup at 10000 commits: ${JSON.stringify(await benchLogCleanup(10_000))}`);
}
