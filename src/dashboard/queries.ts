/**
 * The dashboard's SQL: the files of `sql/dashboard/`, loaded once, run with bound parameters.
 *
 * What the page shows is defined in those files (with their header comments), not here, so a
 * building engineer can change a comfort band or a window without reading TypeScript. Values
 * from the browser never reach SQL text: they are validated by the server and bound as
 * prepared-statement parameters.
 */
import type { DuckDBConnection, DuckDBValue } from "@duckdb/node-api";

/** Every query the dashboard runs; each is `sql/dashboard/<name>.sql`. */
export const DASHBOARD_QUERIES = [
  "overview",
  "series",
  "device_series",
  "incidents",
  "silent_devices",
  "silent_devices_silver",
  "quarantine_reasons",
] as const;

export type DashboardQuery = typeof DASHBOARD_QUERIES[number];

/** A result row made JSON-safe: BIGINT becomes number, timestamps epoch ms. */
export type Row = Record<string, string | number | boolean | null>;

/** Where the SQL files live, relative to this module (works from any working directory). */
export const SQL_DIR = new URL("../../sql/dashboard/", import.meta.url);

/** Reads all dashboard SQL files; a missing one fails at start, not on the first request. */
export async function loadDashboardSql(
  dir: URL = SQL_DIR,
): Promise<Record<DashboardQuery, string>> {
  const out = {} as Record<DashboardQuery, string>;
  for (const name of DASHBOARD_QUERIES) {
    out[name] = await Deno.readTextFile(new URL(`${name}.sql`, dir));
  }
  return out;
}

function jsonValue(v: unknown): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (v instanceof Date) return v.getTime();
  return String(v);
}

/** Runs one dashboard query with its named parameters and returns JSON-safe rows. */
export async function runQuery(
  conn: DuckDBConnection,
  sql: string,
  params: Record<string, DuckDBValue> = {},
): Promise<Row[]> {
  const result = await conn.run(sql, Object.keys(params).length ? params : undefined);
  const rows = await result.getRowObjectsJS();
  return rows.map((r) => {
    const out: Row = {};
    for (const [k, v] of Object.entries(r)) out[k] = jsonValue(v);
    return out;
  });
}
