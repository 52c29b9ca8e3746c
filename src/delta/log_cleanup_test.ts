import assert from "node:assert/strict";
import { join } from "node:path";
import { type DuckDB, openDuckDB } from "../duckdb/engine.ts";
import { logRetentionMs } from "./checkpoint.ts";
import { VersionNotFoundError } from "./errors.ts";
import { commitPath, listLog } from "./log.ts";
import { cleanupExpiredLog, DEFAULT_LOG_RETENTION_MS } from "./log_cleanup.ts";
import { clearSnapshotCaches, loadSnapshot } from "./snapshot.ts";
import { appendQuery, createTable } from "./table.ts";
import {
  appendWorker,
  layerView,
  normalise,
  scanView,
  SENSOR_SCHEMA,
  sensorRowsSql,
} from "./test_fixtures/common.ts";

const PARTS = ["building", "type"];
const DAY = 86_400_000;

/**
 * Runs `fn` on a new table with `properties` whose versions 1..commits are appends (checkpoints
 * every 10, each append with a txn of "src-0"), then on commits below `expiredBelow` made to look
 * 40 days old; removes it afterwards.
 */
async function withAgedTable(
  opts: { commits: number; expiredBelow: number; properties: Record<string, string> },
  fn: (path: string, db: DuckDB) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, {
    schema: SENSOR_SCHEMA,
    partitionColumns: PARTS,
    properties: opts.properties,
  });
  const db = await openDuckDB();
  try {
    for (let i = 1; i <= opts.commits; i++) {
      await appendQuery(db.conn, path, sensorRowsSql(20, i * 100), {
        txns: [{ appId: "src-0", version: i }],
      });
    }
    await age(path, opts.expiredBelow);
    await fn(path, db);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Makes commits below `below` look 40 days old. */
async function age(path: string, below: number): Promise<void> {
  const old = new Date(Date.now() - 40 * DAY);
  for (let v = 0; v < below; v++) await Deno.utime(commitPath(path, v), old, old);
}

/** Cleanup off in the properties, so that appends never clean: the tests call it. */
const MANUAL = { "delta.enableExpiredLogCleanup": "false" };
/**
 * A pass's time budget where a test asserts a complete cleanup: the default 100 ms is a
 * production pacing, and a loaded machine can take longer to delete ten files.
 */
const NO_DEADLINE = 600_000;

Deno.test("log cleanup deletes only what no unexpired version needs, and tables read the same", async () => {
  await withAgedTable({ commits: 35, expiredBelow: 25, properties: MANUAL }, async (path, db) => {
    const before = await loadSnapshot(path, { tombstones: false });
    const atTwelve = normalise(await scanView(db.conn, path, PARTS, 12));
    assert.deepEqual((await listLog(path)).checkpoints, [10, 20, 30]);

    // Oldest unexpired commit: 25. Checkpoints at or before it: 20, 10 — keep from 10.
    const r = await cleanupExpiredLog(path, {
      latest: 35,
      retentionMs: 30 * DAY,
      budgetMs: NO_DEADLINE,
    });
    assert.deepEqual(r, {
      commitsDeleted: 10,
      checkpointsDeleted: 0,
      complete: true,
      keepFrom: 10,
    });
    const listing = await listLog(path);
    assert.deepEqual(listing.commits, Array.from({ length: 26 }, (_, i) => 10 + i));
    assert.deepEqual(listing.checkpoints, [10, 20, 30]);

    clearSnapshotCaches();
    const after = await loadSnapshot(path, { tombstones: false });
    assert.equal(after.version, 35);
    assert.equal(after.txnVersion("src-0"), 35);
    assert.deepEqual(after.files.map((f) => f.path).sort(), before.files.map((f) => f.path).sort());
    // Every kept version still reads the same, through this layer and through delta_scan.
    assert.deepEqual(normalise(await scanView(db.conn, path, PARTS, 12)), atTwelve);
    assert.deepEqual(
      normalise(await layerView(db.conn, await loadSnapshot(path, { version: 12 }))),
      atTwelve,
    );
    assert.deepEqual(
      normalise(await scanView(db.conn, path, PARTS)),
      normalise(await layerView(db.conn, after)),
    );
    // A deleted version says so.
    await assert.rejects(
      () => loadSnapshot(path, { version: 5 }),
      (err: Error) => err instanceof VersionNotFoundError && /cleaned up/.test(err.message),
    );

    // A second pass finds nothing more to do.
    assert.deepEqual(
      await cleanupExpiredLog(path, { latest: 35, retentionMs: 30 * DAY, budgetMs: NO_DEADLINE }),
      {
        commitsDeleted: 0,
        checkpointsDeleted: 0,
        complete: true,
      },
    );
  });
});

Deno.test("log cleanup: nothing expired, or a single checkpoint in reach, deletes nothing", async () => {
  await withAgedTable({ commits: 15, expiredBelow: 0, properties: MANUAL }, async (path) => {
    const none = { commitsDeleted: 0, checkpointsDeleted: 0, complete: true };
    assert.deepEqual(
      await cleanupExpiredLog(path, { latest: 15, retentionMs: 30 * DAY, budgetMs: NO_DEADLINE }),
      none,
    );
    // Everything expired, but only checkpoint 10 precedes the latest: it alone could rebuild
    // the kept versions, and one checkpoint is never trusted alone.
    await age(path, 16);
    assert.deepEqual(
      await cleanupExpiredLog(path, { latest: 15, retentionMs: 30 * DAY, budgetMs: NO_DEADLINE }),
      none,
    );
    assert.equal((await listLog(path)).commits.length, 16);
  });
});

Deno.test("log cleanup stops when its time is up and the next pass goes on, bottom up", async () => {
  await withAgedTable({ commits: 35, expiredBelow: 35, properties: MANUAL }, async (path) => {
    // No time at all: one version per pass (commit 0, then commit 1 …).
    for (let v = 0; v < 3; v++) {
      const r = await cleanupExpiredLog(path, { latest: 35, retentionMs: 30 * DAY, budgetMs: 0 });
      assert.deepEqual(r, {
        commitsDeleted: 1,
        checkpointsDeleted: 0,
        complete: false,
        keepFrom: 20,
      });
      assert.equal((await listLog(path)).commits[0], v + 1);
    }
    const rest = await cleanupExpiredLog(path, {
      latest: 35,
      retentionMs: 30 * DAY,
      budgetMs: NO_DEADLINE,
    });
    // All expired: E is the latest (35); checkpoints 30 and 20 precede it — keep from 20.
    assert.deepEqual(rest, {
      commitsDeleted: 17,
      checkpointsDeleted: 1,
      complete: true,
      keepFrom: 20,
    });
    const listing = await listLog(path);
    assert.equal(listing.commits[0], 20);
    assert.deepEqual(listing.checkpoints, [20, 30]);
    clearSnapshotCaches();
    assert.equal((await loadSnapshot(path)).txnVersion("src-0"), 35);
  });
});

Deno.test("a writer process cleans the log after its first checkpoint, as the properties say", async () => {
  // This process's checkpoints (10, 20) found nothing expired: commits age only afterwards.
  const properties = { "delta.logRetentionDuration": "interval 1 day" };
  await withAgedTable({ commits: 29, expiredBelow: 0, properties }, async (path, db) => {
    assert.equal((await listLog(path)).commits[0], 0);
    await age(path, 25);
    // A new writer commits version 30: its checkpoint is followed by a cleanup pass that keeps
    // everything from checkpoint 10 (oldest unexpired commit 25; checkpoints 20 and 10).
    const out = await appendWorker([path, "1", "1", "append"], {
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)).versions, [30]);
    const listing = await listLog(path);
    assert.equal(listing.commits[0], 10);
    assert.deepEqual(listing.checkpoints, [10, 20, 30]);
    clearSnapshotCaches();
    const snap = await loadSnapshot(path, { tombstones: false });
    assert.equal(snap.version, 30);
    assert.equal(snap.txnVersion("src-0"), 29);
    assert.deepEqual(
      normalise(await scanView(db.conn, path, PARTS)),
      normalise(await layerView(db.conn, snap)),
    );
  });
});

Deno.test("logRetentionMs reads delta.logRetentionDuration and delta.enableExpiredLogCleanup", () => {
  assert.equal(logRetentionMs({}), DEFAULT_LOG_RETENTION_MS);
  assert.equal(logRetentionMs({ "delta.logRetentionDuration": "interval 2 days" }), 2 * DAY);
  assert.equal(logRetentionMs({ "delta.enableExpiredLogCleanup": "FALSE" }), null);
  assert.equal(logRetentionMs({ "delta.logRetentionDuration": "nonsense" }), 30 * DAY);
});
