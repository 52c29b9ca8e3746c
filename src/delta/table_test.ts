import assert from "node:assert/strict";
import { join } from "node:path";
import { openDuckDB, sqlString } from "../duckdb/engine.ts";
import {
  appendQuery,
  createTable,
  loadSnapshot,
  releaseStagingDirectories,
  TableExistsMismatchError,
  TableNotFoundError,
  writeDataFiles,
} from "./table.ts";
import { DataSchemaError } from "./errors.ts";
import {
  layerView,
  normalise,
  scanView,
  SENSOR_SCHEMA,
  sensorRowsSql,
  totalRows,
} from "./test_fixtures/common.ts";
import { commitFileTimes, listLog } from "./log.ts";
import { parseStats } from "./actions.ts";
import { decodeAddPath } from "./partition.ts";

const PARTS = ["building", "type"];

Deno.test("createTable writes protocol 1/2 and a valid metaData; idempotent and race-safe", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  const snaps = await Promise.all(
    [0, 1, 2, 3].map(() => createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS })),
  );
  for (const s of snaps) assert.deepEqual(s.version, 0);
  assert.deepEqual((await listLog(path)).commits, [0]);
  const lines = (await Deno.readTextFile(join(path, "_delta_log", "00000000000000000000.json")))
    .trim().split("\n").map((l) => JSON.parse(l));
  const protocol = lines.find((l) => l.protocol).protocol;
  assert.deepEqual(protocol, { minReaderVersion: 1, minWriterVersion: 2 });
  const meta = lines.find((l) => l.metaData).metaData;
  const schema = JSON.parse(meta.schemaString);
  for (const f of schema.fields) assert.deepEqual(f.metadata, {});
  assert.deepEqual(schema.fields[0], {
    name: "timestamp",
    type: "timestamp",
    nullable: false,
    metadata: {},
  });
  assert.deepEqual(meta.partitionColumns, PARTS);
  await assert.rejects(
    () => createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: ["building"] }),
    TableExistsMismatchError,
  );
  await assert.rejects(() => loadSnapshot(join(dir, "nope")), TableNotFoundError);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("appends match delta_scan at every version, through checkpoints; txns and time travel", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "silver");
  await createTable(path, {
    schema: SENSOR_SCHEMA,
    partitionColumns: PARTS,
    properties: { "delta.checkpointInterval": "5" },
  });
  const db = await openDuckDB();
  try {
    for (let k = 1; k <= 12; k++) {
      const { version, adds } = await appendQuery(db.conn, path, sensorRowsSql(40 + k, k * 100), {
        txns: [{ appId: "app-sensor_data-0", version: k * 10 }],
      });
      assert.deepEqual(version, k);
      assert.deepEqual(adds.length, 4);
      await new Promise((r) => setTimeout(r, 3));
    }
    const { checkpoints } = await listLog(path);
    assert.deepEqual(checkpoints, [5, 10]);
    for (const v of [0, 1, 4, 5, 6, 10, 12]) {
      const snap = await loadSnapshot(path, { version: v });
      assert.deepEqual(snap.version, v);
      assert.deepEqual(snap.txnVersion("app-sensor_data-0"), v === 0 ? undefined : v * 10);
      const mine = normalise(await layerView(db.conn, snap));
      assert.deepEqual(mine, normalise(await scanView(db.conn, path, PARTS, v)), `version ${v}`);
      assert.deepEqual(
        totalRows(await layerView(db.conn, snap)),
        v === 0 ? 0 : (v * 81 + v * v) / 2,
      );
    }
    assert.deepEqual(
      normalise(await layerView(db.conn, await loadSnapshot(path))),
      normalise(await scanView(db.conn, path, PARTS)),
    );
    // Time travel by timestamp: latest commit at or before the instant, dated by its commit
    // file's mtime (commitInfo's timestamp is taken before the file is written, and under load
    // can precede it by more than the file system's clock tick).
    const times = await commitFileTimes(path, await listLog(path));
    const [at7, at8] = [times.get(7)!, times.get(8)!];
    assert.deepEqual((await loadSnapshot(path, { timestamp: new Date(at7) })).version, 7);
    const between = new Date(at7 + Math.floor((at8 - at7) / 2));
    assert.deepEqual((await loadSnapshot(path, { timestamp: between })).version, 7);
    assert.deepEqual(
      (await loadSnapshot(path, { timestamp: new Date(Date.now() + 1e6) })).version,
      12,
    );
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("files have Delta's physical types and no partition columns; stats are conservative", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  const snap = await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS });
  const db = await openDuckDB();
  try {
    await db.conn.run(`CREATE TEMP TABLE src AS SELECT
      '2025-12-15 10:00:00.0005'::TIMESTAMP + to_microseconds(i * 1000) AS timestamp, 'd' AS device_id,
      i AS floor, i::INTEGER AS value, i AS seq, 'B' AS building, 'temp' AS type FROM range(3) r(i)`);
    const adds = await writeDataFiles(db.conn, snap, "SELECT * FROM src");
    assert.deepEqual(adds.length, 1);
    assert.ok(adds[0].path.endsWith(".zstd.parquet"));
    const file = join(path, decodeURIComponent(adds[0].path));
    const schema = (await db.conn.runAndReadAll(
      `SELECT name, type, logical_type::VARCHAR FROM parquet_schema(${
        sqlString(file)
      }) WHERE name <> 'duckdb_schema'`,
    )).getRows().map((r) => [String(r[0]), String(r[1]), String(r[2])]);
    const byName = Object.fromEntries(schema.map((r) => [r[0], r]));
    assert.deepEqual(Object.keys(byName).sort(), [
      "device_id",
      "floor",
      "seq",
      "timestamp",
      "value",
    ]);
    assert.deepEqual(byName.floor[1], "INT32");
    assert.deepEqual(byName.seq[1], "INT64");
    assert.deepEqual(byName.value[1], "DOUBLE");
    assert.deepEqual(byName.timestamp[1], "INT64");
    assert.ok(
      /isAdjustedToUTC=1|isAdjustedToUTC=true/i.test(byName.timestamp[2]),
      byName.timestamp[2],
    );
    assert.ok(/MICROS/i.test(byName.timestamp[2]), byName.timestamp[2]);
    const codec = (await db.conn.runAndReadAll(
      `SELECT DISTINCT compression FROM parquet_metadata(${sqlString(file)})`,
    )).getRows().map((r) => String(r[0]));
    assert.deepEqual(codec, ["ZSTD"]);
    const stats = JSON.parse(adds[0].stats!);
    assert.deepEqual(stats.numRecords, 3);
    // 10:00:00.0005 .. 10:00:00.0025: min rounds down, max up to the millisecond.
    assert.deepEqual(stats.minValues.timestamp, "2025-12-15T10:00:00.000Z");
    assert.deepEqual(stats.maxValues.timestamp, "2025-12-15T10:00:00.003Z");
    assert.deepEqual(stats.nullCount, { timestamp: 0, device_id: 0, floor: 0, value: 0, seq: 0 });
    assert.deepEqual(stats.minValues.floor, 0);
    assert.deepEqual(stats.maxValues.seq, 2);
    assert.deepEqual(adds[0].partitionValues, { building: "B", type: "temp" });
    // Nothing was committed.
    assert.deepEqual((await loadSnapshot(path)).files.length, 0);
    // Bad input is rejected before any file is written.
    await assert.rejects(
      () => writeDataFiles(db.conn, snap, "SELECT *, 1 AS extra FROM src"),
      DataSchemaError,
    );
    await assert.rejects(
      () => writeDataFiles(db.conn, snap, "SELECT * REPLACE (NULL AS device_id) FROM src"),
      DataSchemaError,
    );
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a partition above targetFileRows is split into several files", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS });
  const db = await openDuckDB();
  try {
    const { adds } = await appendQuery(db.conn, path, sensorRowsSql(1000, 0, ["B"], ["temp"]), {
      targetFileRows: 300,
    });
    assert.deepEqual(adds.length, 4);
    assert.deepEqual(adds.map((a) => JSON.parse(a.stats!).numRecords).sort(), [100, 300, 300, 300]);
    assert.deepEqual(
      normalise(await scanView(db.conn, path, PARTS)),
      normalise(await layerView(db.conn, await loadSnapshot(path))),
    );
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("partitioned writes reuse one staging directory per table, removed on release", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS });
  const db = await openDuckDB();
  const staging = async () => {
    const names: string[] = [];
    for await (const e of Deno.readDir(path)) {
      if (e.name.startsWith("_staging-")) names.push(e.name);
    }
    return names;
  };
  try {
    await appendQuery(db.conn, path, sensorRowsSql(200, 0));
    const first = await staging();
    await appendQuery(db.conn, path, sensorRowsSql(200, 200));
    assert.equal(first.length, 1);
    assert.deepEqual(await staging(), first, "the second write reused the first's directory");
    for await (const e of Deno.readDir(join(path, first[0]))) {
      const left = [...Deno.readDirSync(join(path, first[0], e.name))];
      assert.deepEqual(left, [], `${e.name} keeps no file once committed`);
    }
    await releaseStagingDirectories([path]);
    assert.deepEqual(await staging(), []);
    const files = (await loadSnapshot(path)).files;
    assert.equal(files.reduce((n, f) => n + (parseStats(f)?.numRecords ?? 0), 0), 400);
    for (const f of files) {
      const st = await Deno.stat(join(path, decodeAddPath(f.path)));
      assert.equal(f.size, st.size, `add.size of ${f.path} is the file's size`);
    }
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
