/**
 * The sensor catalogue as small DuckDB temp tables (sql/catalogue/tables.sql): `sensor_types`,
 * `sensor_units`, `field_aliases` and `alarm_thresholds`. SQL joins them instead of repeating
 * the catalogue — the alarm rules read their bands and per-type parameters here, gold picks the
 * counter types by `aggregate`, the dashboard its units — so there is one definition of every
 * sensor type, the file, and the cost of a rule does not grow with the number of types (a join
 * on a table of a few rows).
 *
 * Values reach DuckDB as bound parameters of one INSERT per table, never as SQL text built from
 * the file.
 *
 * @module
 */
import type { DuckDBConnection, DuckDBValue } from "@duckdb/node-api";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { READING_FIELDS, type SensorCatalogue } from "./catalogue.ts";

/** sql/catalogue/tables.sql (this layer sits below the query layer's SQL file loader). */
const DDL_PATH = resolve(dirname(fileURLToPath(import.meta.url)), "../../sql/catalogue/tables.sql");

/** The catalogue tables, as rows in their column order (sql/catalogue/tables.sql). */
export interface CatalogueRows {
  sensor_types: DuckDBValue[][];
  sensor_units: DuckDBValue[][];
  field_aliases: DuckDBValue[][];
  alarm_thresholds: DuckDBValue[][];
}

/** The rows of every catalogue table (types in catalogue order). */
export function catalogueRows(cat: SensorCatalogue): CatalogueRows {
  const rows: CatalogueRows = {
    sensor_types: [],
    sensor_units: [],
    field_aliases: [],
    alarm_thresholds: [],
  };
  for (const t of cat.types.values()) {
    rows.sensor_types.push([t.name, t.unit, t.range[0], t.range[1], t.aggregate]);
    for (const [spelling, c] of t.units) {
      rows.sensor_units.push([t.name, spelling, c.scale, c.offset]);
    }
    const th = t.thresholds;
    rows.alarm_thresholds.push([
      t.name,
      th.warning[0],
      th.warning[1],
      th.critical[0],
      th.critical[1],
      th.maxStep,
      th.maxStepRatio,
      th.zMinScale,
      th.zMinScaleRel,
      th.minDurationS,
      th.flatlineS,
    ]);
  }
  for (const field of READING_FIELDS) {
    cat.fields[field].forEach((path, i) => rows.field_aliases.push([field, i + 1, path.join(".")]));
  }
  return rows;
}

/**
 * Creates (or replaces) the catalogue tables in `conn` and fills them from `cat`. Idempotent:
 * loading another catalogue replaces the previous rows.
 *
 * @example
 * ```ts
 * await loadCatalogueTables(db.conn, await resolveCatalogue());
 * await db.conn.run("SELECT type, unit FROM sensor_types");
 * ```
 */
export async function loadCatalogueTables(
  conn: DuckDBConnection,
  cat: SensorCatalogue,
): Promise<void> {
  // One call runs the file's statements in order (DuckDB's query runs them all).
  await conn.run(await Deno.readTextFile(DDL_PATH));
  for (const [table, rows] of Object.entries(catalogueRows(cat))) {
    await insertRows(conn, table, rows);
  }
}

/** One INSERT of every row, the values bound as parameters ($1, $2, …). */
async function insertRows(
  conn: DuckDBConnection,
  table: string,
  rows: DuckDBValue[][],
): Promise<void> {
  if (rows.length === 0) return;
  let n = 0;
  const tuples = rows.map((r) => `(${r.map(() => `$${++n}`).join(", ")})`);
  // Table names are this module's own constants (the keys of CatalogueRows), not input.
  await conn.run(`INSERT INTO ${table} VALUES ${tuples.join(", ")}`, rows.flat());
}
