import assert from "node:assert/strict";
import { join } from "node:path";
import { openDuckDB } from "../duckdb/engine.ts";
import { appendQuery, createTable, loadSnapshot, optimize, vacuum } from "./table.ts";
import { CommitConflictError } from "./errors.ts";
import { fileTier } from "./optimize.ts";
import { commit } from "./commit.ts";
import { listLog, readCommit } from "./log.ts";
import {
  layerView,
  normalise,
  scanView,
  SENSOR_SCHEMA,
  sensorRowsSql,
} from "./test_fixtures/common.ts";

const PARTS = ["building", "type"];

Deno.test("optimize compacts per partition with dataChange=false; delta_scan agrees at every version", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS });
  const db = await openDuckDB();
  try {
    for (let k = 0; k < 6; k++) await appendQuery(db.conn, path, sensorRowsSql(50, k * 50));
    const before = await loadSnapshot(path);
    assert.equal(before.files.length, 24);
    const res = await optimize(path);
    assert.equal(res.version, 7);
    assert.equal(res.filesRemoved, 24);
    assert.equal(res.filesAdded, 4);
    assert.equal(res.partitionsOptimized, 4);
    const actions = await readCommit(path, 7);
    for (const a of actions) {
      if ("add" in a) assert.equal(a.add.dataChange, false);
      if ("remove" in a) assert.equal(a.remove.dataChange, false);
    }
    const after = await loadSnapshot(path);
    assert.equal(after.files.length, 4);
    assert.deepEqual(
      normalise(await layerView(db.conn, after)),
      normalise(await layerView(db.conn, before)),
    );
    assert.deepEqual(
      normalise(await scanView(db.conn, path, PARTS)),
      normalise(await layerView(db.conn, after)),
    );
    // Time travel to before the compaction still reads the old files.
    assert.deepEqual(
      normalise(await scanView(db.conn, path, PARTS, 6)),
      normalise(await layerView(db.conn, before)),
    );
    // Nothing left to do.
    assert.equal((await optimize(path)).version, undefined);
    // Vacuum with default retention keeps the removed files (time travel), forced 0 h deletes them.
    assert.deepEqual((await vacuum(path)).files, []);
    const vac = await vacuum(path, { retentionHours: 0, force: true });
    assert.equal(vac.files.length, 24);
    assert.deepEqual(
      normalise(await scanView(db.conn, path, PARTS)),
      normalise(await layerView(db.conn, after)),
    );
    // Checkpoint after optimize: force one and read through it.
    const { writeCheckpoint } = await import("./checkpoint.ts");
    await writeCheckpoint(path);
    assert.deepEqual((await listLog(path)).checkpoints, [7]);
    const reloaded = await loadSnapshot(path);
    assert.deepEqual(
      reloaded.files.map((f) => f.path).sort(),
      after.files.map((f) => f.path).sort(),
    );
    assert.deepEqual(
      normalise(await scanView(db.conn, path, PARTS)),
      normalise(await layerView(db.conn, reloaded)),
    );
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("optimize is safe while appends continue; optimize racing optimize conflicts", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS });
  const db = await openDuckDB();
  try {
    for (let k = 0; k < 4; k++) await appendQuery(db.conn, path, sensorRowsSql(20, k * 20));
    // Appends racing the optimize: all commit, nothing is lost.
    const appends = (async () => {
      for (let k = 4; k < 8; k++) await appendQuery(db.conn, path, sensorRowsSql(20, k * 20));
    })();
    const [opt] = await Promise.all([optimize(path), appends]);
    assert.ok(opt.version !== undefined);
    const snap = await loadSnapshot(path);
    const view = normalise(await layerView(db.conn, snap));
    assert.equal(Object.values(view).reduce((s, v) => s + v.rows, 0), 160);
    assert.deepEqual(normalise(await scanView(db.conn, path, PARTS)), view);
    // Second optimizer planned on a stale snapshot: its removes were already removed.
    const stale = await loadSnapshot(path);
    await optimize(path);
    const f = stale.files[0];
    const err = await commit(path, [{
      remove: { path: f.path, dataChange: false, deletionTimestamp: 1 },
    }], {
      readVersion: stale.version,
      operation: "OPTIMIZE",
    }).catch((e) => e);
    const removedAgain = (await loadSnapshot(path)).files.every((x) => x.path !== f.path);
    if (removedAgain) assert.ok(err instanceof CommitConflictError, String(err));
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("optimize minFiles: a partition waits for enough small files; files at the target stay", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS });
  const db = await openDuckDB({ delta: false });
  try {
    for (let k = 0; k < 3; k++) await appendQuery(db.conn, path, sensorRowsSql(50, k * 50));
    // 4 partitions × 3 files: under the threshold, nothing is planned.
    assert.equal((await optimize(path, { minFiles: 4, conn: db.conn })).version, undefined);
    const snapshot = await loadSnapshot(path);
    const res = await optimize(path, { minFiles: 3, conn: db.conn, snapshot });
    assert.equal(res.filesRemoved, 12);
    assert.equal(res.filesAdded, 4);
    // Files at (or over) the target are never rewritten, however many small ones follow.
    const compacted = (await loadSnapshot(path)).files;
    const target = Math.min(...compacted.map((f) => f.size));
    for (let k = 3; k < 6; k++) await appendQuery(db.conn, path, sensorRowsSql(50, k * 50));
    const again = await optimize(path, { minFiles: 2, conn: db.conn, targetSize: target });
    const removed = (await readCommit(path, again.version ?? -1).catch(() => []))
      .flatMap((a) => "remove" in a ? [a.remove.path] : []);
    assert.equal(removed.length, again.filesRemoved);
    for (const f of compacted) assert.ok(!removed.includes(f.path), `${f.path} was rewritten`);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("optimize tiered: minFiles files of one tier make one of the next; tiers survive a checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS });
  const db = await openDuckDB({ delta: false });
  const tiers = async () => {
    const snap = await loadSnapshot(path);
    const byPartition = Map.groupBy(snap.files, (f) => JSON.stringify(f.partitionValues));
    return [...byPartition.values()].map((fs) => fs.map(fileTier).sort().join(","));
  };
  const append = async (k: number) => await appendQuery(db.conn, path, sensorRowsSql(50, k * 50));
  const pass = async () => await optimize(path, { minFiles: 3, tiered: true, conn: db.conn });
  try {
    for (let k = 0; k < 2; k++) await append(k);
    // Two appended files per partition: under the count, nothing to do.
    assert.equal((await pass()).version, undefined);
    let k = 2;
    // Three rounds of three appends: each round's files become one tier-1 file.
    for (let round = 0; round < 3; round++) {
      while (k < 3 * (round + 1)) await append(k++);
      const r = await pass();
      assert.equal(r.partitionsOptimized, 4, `round ${round}`);
      assert.equal(r.filesAdded, 4);
    }
    assert.deepEqual(await tiers(), Array(4).fill("1,1,1"));
    // Three tier-1 files: the next pass makes one tier-2 file of them, rows unchanged.
    const before = normalise(await layerView(db.conn, await loadSnapshot(path)));
    const r = await pass();
    assert.equal(r.filesRemoved, 12);
    assert.deepEqual(await tiers(), Array(4).fill("2"));
    assert.deepEqual(normalise(await layerView(db.conn, await loadSnapshot(path))), before);
    // The tier is a tag of the add action, kept by checkpoints (dataChange is not).
    const { writeCheckpoint } = await import("./checkpoint.ts");
    await writeCheckpoint(path);
    assert.ok((await listLog(path)).checkpoints.length > 0);
    assert.deepEqual(await tiers(), Array(4).fill("2"));
    // Untiered, the same files are packed together whatever their tier.
    await append(k++);
    await append(k++);
    assert.equal((await pass()).version, undefined);
    const all = await optimize(path, { minFiles: 3, conn: db.conn });
    assert.equal(all.filesRemoved, 12);
    assert.deepEqual(await tiers(), Array(4).fill("3"));
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
