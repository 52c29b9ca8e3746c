import assert from "node:assert/strict";
import { join } from "node:path";
import { commit } from "./commit.ts";
import { CorruptLogError, VersionNotFoundError } from "./errors.ts";
import { commitPath, listLog, readLastCheckpoint } from "./log.ts";
import { clearSnapshotCaches, loadSnapshot, refreshSnapshot } from "./snapshot.ts";
import { appendQuery, createTable, optimize } from "./table.ts";
import { openDuckDB } from "../duckdb/engine.ts";
import { writeCheckpoint } from "./checkpoint.ts";
import { SENSOR_SCHEMA, sensorRowsSql } from "./test_fixtures/common.ts";

/** An add of an empty file it creates in the table: commit syncs what it adds. */
function add(table: string, name: string, building: string | null) {
  Deno.mkdirSync(join(table, "building=x"), { recursive: true });
  Deno.writeFileSync(join(table, `building=x/${name}.parquet`), new Uint8Array());
  return {
    add: {
      path: `building=x/${name}.parquet`,
      partitionValues: { building, type: "" },
      size: 1,
      modificationTime: 1,
      dataChange: true,
    },
  };
}

Deno.test("checkpoint + JSON replay equals pure JSON replay (adds, removes, txns, nulls)", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, {
    schema: SENSOR_SCHEMA,
    partitionColumns: ["building", "type"],
    properties: { "delta.checkpointInterval": "4" },
  });
  for (let v = 1; v <= 9; v++) {
    const actions = [add(path, `f${v}`, v % 2 ? null : `b${v}`)];
    if (v % 3 === 0) {
      actions.push(
        {
          remove: {
            path: `building=x/f${v - 1}.parquet`,
            dataChange: true,
            deletionTimestamp: Date.now(),
          },
        } as never,
      );
    }
    await commit(path, actions, {
      readVersion: v - 1,
      operation: "WRITE",
      txns: [{ appId: `a${v % 2}`, version: v }],
    });
  }
  assert.deepEqual((await listLog(path)).checkpoints, [4, 8]);
  assert.equal((await readLastCheckpoint(path))?.version, 8);
  const viaCheckpoint = await loadSnapshot(path);
  // Hide the checkpoints: replay from JSON only.
  for (const v of [4, 8]) {
    await Deno.rename(
      join(path, "_delta_log", `${String(v).padStart(20, "0")}.checkpoint.parquet`),
      join(dir, `cp${v}`),
    );
  }
  clearSnapshotCaches();
  const viaJson = await loadSnapshot(path);
  const norm = (s: typeof viaJson) => ({
    files: s.files.map((f) => JSON.stringify([f.path, f.partitionValues])).sort(),
    tombstones: s.tombstones.map((r) => r.path).sort(),
    txns: [...s.txns].map(([k, v]) => [k, v.version]).sort(),
    version: s.version,
    schema: s.schema,
    properties: s.properties,
  });
  assert.deepEqual(norm(viaCheckpoint), norm(viaJson));
  assert.equal(viaJson.files.length, 6);
  assert.ok(viaJson.files.some((f) => f.partitionValues.building === null));
  assert.ok(viaJson.files.every((f) => f.partitionValues.type === ""));
  // Explicit checkpoint of an older version, then time travel through it.
  const v6 = norm(await loadSnapshot(path, { version: 6 }));
  await writeCheckpoint(path, { version: 5 });
  clearSnapshotCaches();
  assert.deepEqual((await listLog(path)).checkpoints, [5]);
  assert.deepEqual(norm(await loadSnapshot(path, { version: 6 })), v6);
  await assert.rejects(() => loadSnapshot(path, { version: 10 }), VersionNotFoundError);
  await assert.rejects(() => loadSnapshot(path, { timestamp: new Date(0) }), VersionNotFoundError);
  // A gap in the log is corruption, never skipped.
  await Deno.remove(commitPath(path, 7));
  await assert.rejects(() => loadSnapshot(path), CorruptLogError);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("snapshot without tombstones: same files and txns, no tombstones, kept across refreshes", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: ["building", "type"] });
  const db = await openDuckDB({ delta: false });
  try {
    for (let k = 0; k < 3; k++) await appendQuery(db.conn, path, sensorRowsSql(40, k * 40));
    const lean = await loadSnapshot(path, { tombstones: false });
    await optimize(path, { conn: db.conn });
    await appendQuery(db.conn, path, sensorRowsSql(40, 120));
    const full = await loadSnapshot(path);
    const refreshed = await refreshSnapshot(lean);
    assert.ok(full.tombstones.length > 0);
    assert.equal(full.hasTombstones, true);
    assert.deepEqual(refreshed.tombstones, []);
    assert.equal(refreshed.hasTombstones, false);
    assert.equal(refreshed.version, full.version);
    assert.deepEqual(
      refreshed.files.map((f) => f.path).sort(),
      full.files.map((f) => f.path).sort(),
    );
    // The checkpoint comes from the log, not from a snapshot: the tombstones are all there.
    await writeCheckpoint(path, { version: refreshed.version });
    clearSnapshotCaches();
    const viaCheckpoint = await loadSnapshot(path);
    assert.deepEqual(
      viaCheckpoint.tombstones.map((r) => r.path).sort(),
      full.tombstones.map((r) => r.path).sort(),
    );
    // A checkpoint's adds say dataChange=false; everything else is kept as committed.
    assert.deepEqual(viaCheckpoint.files, full.files.map((f) => ({ ...f, dataChange: false })));
    assert.deepEqual(viaCheckpoint.txns, full.txns);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
