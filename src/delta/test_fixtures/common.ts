/**
 * Shared fixtures for Delta tests: a sensor-like schema, temp tables, and two independent
 * views of a table's content — the layer's own (read_parquet over snapshot files +
 * partitionValues) and DuckDB's delta_scan — reduced to per-partition counts and sums.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { joinLocation } from "../../storage/location.ts";
import { sqlString } from "../../duckdb/engine.ts";
import type { TableSchema } from "../schema.ts";
import type { Snapshot } from "../snapshot.ts";
import { decodeAddPath } from "../partition.ts";

/** Silver-like schema partitioned by building, type. */
export const SENSOR_SCHEMA: TableSchema = {
  fields: [
    { name: "timestamp", type: "timestamp", nullable: false },
    { name: "device_id", type: "string", nullable: false },
    { name: "floor", type: "integer", nullable: true },
    { name: "value", type: "double", nullable: true },
    { name: "seq", type: "long", nullable: true },
    { name: "building", type: "string", nullable: true },
    { name: "type", type: "string", nullable: true },
  ],
};

/** SQL producing `n` loosely typed sensor rows (ints as BIGINT, naive timestamps). */
export function sensorRowsSql(
  n: number,
  seed = 0,
  buildings = ["B1", "B2"],
  types = ["temp", "co2"],
): string {
  const b = `[${buildings.map(sqlString).join(", ")}]`;
  const t = `[${types.map(sqlString).join(", ")}]`;
  return `SELECT TIMESTAMP '2025-12-15 10:00:00' + to_microseconds((i + ${seed}) * 1001) AS timestamp,
    'dev-' || ((i + ${seed}) % 13) AS device_id, (i % 7)::BIGINT AS floor,
    ((i + ${seed}) % 1000) / 4.0 AS value, (i + ${seed})::BIGINT AS seq,
    ${b}[1 + ((i + ${seed}) % ${buildings.length})] AS building,
    ${t}[1 + (((i + ${seed}) // ${buildings.length}) % ${types.length})] AS type
    FROM range(${n}) r(i)`;
}

/** Per-partition aggregate: key is JSON of partition values (null where NULL). */
export type View = Record<string, { rows: number; sum: number }>;

function canonicalKey(values: (string | null)[], emptyAsNull: boolean): string {
  return JSON.stringify(values.map((v) => (emptyAsNull && v === "" ? null : v)));
}

/**
 * The layer's view: reads exactly the snapshot's files with read_parquet and attaches each
 * file's partitionValues. `emptyAsNull` folds "" into null the way delta_scan does.
 */
export async function layerView(
  conn: DuckDBConnection,
  snap: Snapshot,
  valueColumn = "value",
  emptyAsNull = true,
): Promise<View> {
  const view: View = {};
  if (snap.files.length === 0) return view;
  const byFile = new Map(
    snap.files.map((f) => [joinLocation(snap.path, decodeAddPath(f.path)), f]),
  );
  const list = [...byFile.keys()].map(sqlString).join(", ");
  const rows = (await conn.runAndReadAll(
    `SELECT filename, count(*)::BIGINT, coalesce(sum(${valueColumn}), 0)::DOUBLE
     FROM read_parquet([${list}], filename = true) GROUP BY filename`,
  )).getRows();
  for (const [file, n, s] of rows) {
    const add = byFile.get(String(file))!;
    const key = canonicalKey(
      snap.partitionColumns.map((c) => add.partitionValues[c] ?? null),
      emptyAsNull,
    );
    view[key] ??= { rows: 0, sum: 0 };
    view[key].rows += Number(n);
    view[key].sum += Number(s);
  }
  return view;
}

/** delta_scan's view of the table (optionally at a version). */
export async function scanView(
  conn: DuckDBConnection,
  path: string,
  partitionColumns: string[],
  version?: number,
  valueColumn = "value",
): Promise<View> {
  const args = version === undefined
    ? sqlString(path)
    : `${sqlString(path)}, version := ${version}`;
  const cols = partitionColumns.map((c) => `"${c}"`);
  const rows = (await conn.runAndReadAll(
    `SELECT ${[...cols, "count(*)::BIGINT", `coalesce(sum(${valueColumn}), 0)::DOUBLE`].join(", ")}
     FROM delta_scan(${args}) ${cols.length ? `GROUP BY ${cols.join(", ")}` : ""}`,
  )).getRows();
  const view: View = {};
  for (const r of rows) {
    const vals = r.slice(0, cols.length).map((v) => (v === null ? null : String(v)));
    const n = Number(r[cols.length]);
    if (n === 0 && cols.length === 0) continue;
    view[canonicalKey(vals, true)] = { rows: n, sum: Number(r[cols.length + 1]) };
  }
  return view;
}

/** Rounds sums so float summation order does not matter. */
export function normalise(view: View): Record<string, { rows: number; sum: string }> {
  const out: Record<string, { rows: number; sum: string }> = {};
  for (const k of Object.keys(view).sort()) {
    out[k] = { rows: view[k].rows, sum: view[k].sum.toFixed(4) };
  }
  return out;
}

/** Total rows of a view. */
export function totalRows(view: View): number {
  return Object.values(view).reduce((s, v) => s + v.rows, 0);
}

const WORKER = new URL("./append_worker.ts", import.meta.url).pathname;
const CONFIG = new URL("../../../deno.json", import.meta.url).pathname;

/** A child process running append_worker.ts: `<table> <id> <commits> <append|crash>`. */
export function appendWorker(
  args: string[],
  stdio: { stdout: "piped"; stderr: "piped" | "inherit" },
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      CONFIG,
      "--allow-read",
      "--allow-write",
      "--allow-ffi",
      "--allow-env",
      "--allow-net=127.0.0.1",
      WORKER,
      ...args,
    ],
    ...stdio,
  });
}
