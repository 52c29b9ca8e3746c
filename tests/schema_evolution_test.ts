/**
 * Schema evolution read by independent Delta readers (issue 26): silver gains the catalogue's
 * `columns:` (one of each type) and bronze its `readings`/`duplicates` by a metaData action in
 * the commit of the first rows carrying them. DuckDB's delta_scan and delta-rs (python
 * `deltalake`, from the venv under .cache/) read the old version (time travel: no such column)
 * and the evolved one (the column, NULL in older rows), before and after a checkpoint, with the
 * same counts and sums as the layer's own scan. Dropping an entry from the catalogue keeps the
 * column.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { sqlString } from "../src/duckdb/engine.ts";
import {
  appendQuery,
  createTable,
  loadSnapshot,
  type TableSchema,
  writeCheckpoint,
} from "../src/delta/table.ts";
import { readCommit } from "../src/delta/log.ts";
import { snapshotScanSql } from "../src/delta/scan.ts";
import type { ExtraColumn } from "../src/reading/catalogue.ts";
import {
  BRONZE_SCHEMA,
  PARTITION_COLUMNS,
  SILVER_SCHEMA,
  silverSchema,
} from "../src/pipeline/tables.ts";
import { deltalakePython } from "../src/python_venv.ts";
import { noteSkip } from "./helpers/skip.ts";

const SCRIPT = new URL("./tools/read_columns_with_deltalake.py", import.meta.url).pathname;
const deltalake = await deltalakePython();
const PYTHON = "python" in deltalake ? deltalake.python : null;

const COLUMNS: ExtraColumn[] = [
  { name: "battery", type: "double", paths: [["battery"]] },
  { name: "rssi", type: "integer", paths: [["rssi"]] },
  { name: "firmware", type: "string", paths: [["fw"]] },
  { name: "charging", type: "boolean", paths: [["charging"]] },
];

/** `n` silver rows from `seed`; with the catalogue columns when `extras`. */
function silverRows(n: number, seed: number, extras: boolean): string {
  return `SELECT TIMESTAMP '2026-12-01 10:00:00' + to_microseconds((i + ${seed}) * 1000000) AS timestamp,
    'dev-' || (i % 5) AS device_id, 1 AS floor, (i + ${seed})::DOUBLE AS value, 'C' AS unit,
    'file:x:' || (i + ${seed}) AS source, TIMESTAMP '2026-12-01 11:00:00' AS ingest_time,
    'B' || (i % 2) AS building, 'temperature' AS type${
    extras
      ? `, (i % 100) / 100.0 AS battery, -60 - i AS rssi, 'fw-' || (i % 3) AS firmware,
        i % 2 = 0 AS charging`
      : ""
  } FROM range(${n}) r(i)`;
}

interface Reading {
  rows: number;
  columns: string[];
  battery: { non_null: number; sum: number | null } | null;
}

async function duckdbRead(path: string, version?: number): Promise<Reading> {
  const db = await openDuckDB({ delta: true });
  try {
    const src = `delta_scan(${sqlString(path)}${
      version === undefined ? "" : `, version := ${version}`
    })`;
    const columns = (await db.conn.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`)).getRows()
      .map((r) => String(r[0]));
    const [rows] = (await db.conn.runAndReadAll(`SELECT count(*) FROM ${src}`)).getRows()[0];
    let battery = null;
    if (columns.includes("battery")) {
      const [n, s] = (await db.conn.runAndReadAll(
        `SELECT count(battery), sum(battery) FROM ${src}`,
      )).getRows()[0];
      battery = { non_null: Number(n), sum: s === null ? null : Number(s) };
    }
    return { rows: Number(rows), columns, battery };
  } finally {
    db.close();
  }
}

async function deltaRsRead(path: string, version?: number): Promise<Reading> {
  const o = await new Deno.Command(PYTHON!, {
    args: [SCRIPT, path, version === undefined ? "latest" : String(version), "battery"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(o.success, new TextDecoder().decode(o.stderr));
  const r = JSON.parse(new TextDecoder().decode(o.stdout));
  return { rows: r.rows, columns: r.columns, battery: r.stats.battery };
}

/** The layer's own scan of the same version, in the same shape. */
async function layerRead(path: string, version?: number): Promise<Reading> {
  const snap = await loadSnapshot(path, version === undefined ? {} : { version });
  const db = await openDuckDB({ delta: false });
  try {
    const columns = snap.schema.fields.map((f) => f.name);
    const has = columns.includes("battery");
    const [n, b, s] = (await db.conn.runAndReadAll(
      `SELECT count(*), ${has ? "count(battery), sum(battery)" : "0, 0"} FROM (${
        snapshotScanSql(snap)
      })`,
    )).getRows()[0];
    return {
      rows: Number(n),
      columns,
      battery: has ? { non_null: Number(b), sum: s === null ? null : Number(s) } : null,
    };
  } finally {
    db.close();
  }
}

/** Reads with every reader and checks they agree; returns the common reading. */
async function readAll(path: string, version: number | undefined, label: string) {
  const layer = await layerRead(path, version);
  const duck = await duckdbRead(path, version);
  const norm = (r: Reading) => ({
    rows: r.rows,
    columns: [...r.columns].sort(),
    battery: r.battery && { non_null: r.battery.non_null, sum: r.battery.sum?.toFixed(6) },
  });
  assert.deepEqual(norm(duck), norm(layer), `delta_scan, ${label}`);
  const figures = [
    `${label}: layer/delta_scan ${duck.rows} rows, battery ${JSON.stringify(duck.battery)}`,
  ];
  if (PYTHON !== null) {
    const rs = await deltaRsRead(path, version);
    assert.deepEqual(norm(rs), norm(layer), `delta-rs, ${label}`);
    figures.push(`delta-rs ${rs.rows} rows, battery ${JSON.stringify(rs.battery)}`);
  }
  console.log(figures.join("; "));
  return layer;
}

Deno.test("an evolved silver table reads the same in DuckDB delta_scan, delta-rs and the layer, old and new versions", async () => {
  if (PYTHON === null) {
    noteSkip(
      "delta-rs part of the schema evolution test",
      String(
        "reason" in deltalake ? deltalake.reason : "no python with deltalake",
      ),
    );
  }
  const dir = await Deno.makeTempDir();
  const path = join(dir, "silver");
  try {
    await createTable(path, { schema: SILVER_SCHEMA, partitionColumns: PARTITION_COLUMNS });
    const db = await openDuckDB({ delta: false });
    let before: number, evolved: number;
    try {
      before = (await appendQuery(db.conn, path, silverRows(50, 0, false))).version;
      evolved = (await appendQuery(db.conn, path, silverRows(30, 100, true), {
        schema: silverSchema(COLUMNS),
      })).version;
      assert.ok((await readCommit(path, evolved)).some((a) => "metaData" in a));
      // The catalogue loses its columns: the table keeps them, new rows write NULL.
      await appendQuery(db.conn, path, silverRows(20, 200, false), {
        schema: silverSchema([]),
      });
      await writeCheckpoint(path);
      await appendQuery(db.conn, path, silverRows(10, 300, true), {
        schema: silverSchema(COLUMNS),
      });
    } finally {
      db.close();
    }
    const old = await readAll(path, before, `version ${before} (before the column)`);
    assert.equal(old.rows, 50);
    assert.equal(old.battery, null);
    const atChange = await readAll(path, evolved, `version ${evolved} (the column added)`);
    assert.equal(atChange.rows, 80);
    assert.equal(atChange.battery?.non_null, 30);
    const latest = await readAll(path, undefined, "latest (after a checkpoint)");
    assert.equal(latest.rows, 110);
    assert.equal(latest.battery?.non_null, 40);
    for (const c of COLUMNS) assert.ok(latest.columns.includes(c.name), c.name);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an existing bronze table gains readings and duplicates by evolution", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "bronze");
  const OLD_BRONZE: TableSchema = {
    fields: BRONZE_SCHEMA.fields.filter((f) => f.name !== "readings" && f.name !== "duplicates"),
  };
  const rows = (n: number, withCounts: boolean) =>
    `SELECT 'file' AS source, NULL AS topic, NULL AS kafka_partition, i AS kafka_offset,
      NULL AS kafka_key, NULL::TIMESTAMPTZ AS kafka_timestamp, 'f.ndjson' AS file, '{}' AS payload,
      NULL AS payload_base64, 'valid' AS status, now() AS ingest_time, 'B1' AS building,
      'co2' AS type${withCounts ? ", 2 AS readings, 0 AS duplicates" : ""} FROM range(${n}) r(i)`;
  try {
    await createTable(path, { schema: OLD_BRONZE, partitionColumns: PARTITION_COLUMNS });
    const db = await openDuckDB({ delta: false });
    try {
      await appendQuery(db.conn, path, rows(4, false));
      // What a consumer of this version does at start: it opens, it does not break.
      const snap = await createTable(path, {
        schema: BRONZE_SCHEMA,
        partitionColumns: PARTITION_COLUMNS,
      });
      assert.ok(!snap.schema.fields.some((f) => f.name === "readings"));
      await appendQuery(db.conn, path, rows(3, true), { schema: BRONZE_SCHEMA });
    } finally {
      db.close();
    }
    const duck = await openDuckDB({ delta: true });
    try {
      const [n, sumReadings, fallback] = (await duck.conn.runAndReadAll(
        `SELECT count(*), sum(readings), sum(coalesce(readings, 1))
         FROM delta_scan(${sqlString(path)})`,
      )).getRows()[0].map(Number);
      assert.deepEqual([n, sumReadings, fallback], [7, 6, 10]);
      const [old] = (await duck.conn.runAndReadAll(
        `SELECT count(*) FROM delta_scan(${sqlString(path)}, version := 1)`,
      )).getRows()[0].map(Number);
      assert.equal(old, 4);
    } finally {
      duck.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
