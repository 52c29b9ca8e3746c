/**
 * Decoding in DuckDB's vectorised SQL (sql/decode/): payloads appended as one VARCHAR column
 * are decoded by one statement over the catalogue's tables (sql/catalogue/tables.sql), so a
 * narrow valid reading never becomes a JavaScript object. What the SQL path cannot decide
 * exactly as the reference decoder (src/reading/decode.ts) would — every reject, wide payloads,
 * JSON the two parsers read differently, catalogue columns — comes out `needs_js` and is
 * decoded in JavaScript; sql_decode_test.ts holds the two equal on the hostile catalogue and on
 * random and simulator payloads.
 *
 * @module
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { SensorCatalogue } from "../reading/catalogue.ts";
import { loadCatalogueTables } from "../reading/catalogue_sql.ts";
import { appendRows } from "../duckdb/engine.ts";

const SQL_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../sql/decode");
let prepareSql: string | undefined;
let decodeSql: string | undefined;

/** The catalogue each connection's decoder was prepared for (temp tables live per connection). */
const preparedFor = new WeakMap<DuckDBConnection, SensorCatalogue>();

/**
 * Loads the catalogue tables and the decoder's macros and variables on `conn`, unless they are
 * there for this very catalogue already (a reloaded catalogue is a new object: prepared again).
 */
export async function prepareSqlDecode(
  conn: DuckDBConnection,
  cat: SensorCatalogue,
): Promise<void> {
  if (preparedFor.get(conn) === cat) return;
  prepareSql ??= await Deno.readTextFile(resolve(SQL_DIR, "prepare.sql"));
  await loadCatalogueTables(conn, cat);
  await conn.run("CREATE OR REPLACE TEMP TABLE decode_column_paths (path VARCHAR)");
  await appendRows(
    conn,
    "decode_column_paths",
    cat.columns.flatMap((c) => c.paths.map((p) => [p.join(".")])),
  );
  await conn.run(prepareSql);
  preparedFor.set(conn, cat);
}

/** Parameters of one decode statement. */
export interface SqlDecodeParams {
  /** The ingest clock, epoch ms (later than it by more than the tolerance: future). */
  nowMs: number;
  futureToleranceMs: number;
  maxBytes: number;
}

/**
 * Decodes the temp table `raw_payloads (rec INTEGER, payload VARCHAR)` on `conn` into the temp
 * table `sql_decoded (rec, needs_js, ts, device_id, building, floor, type, value, unit)`, one
 * row per payload (sql/decode/decode.sql). `prepareSqlDecode` must have run on `conn`.
 */
export async function runSqlDecode(conn: DuckDBConnection, p: SqlDecodeParams): Promise<void> {
  decodeSql ??= await Deno.readTextFile(resolve(SQL_DIR, "decode.sql"));
  await conn.run(decodeSql, [p.nowMs, p.futureToleranceMs, p.maxBytes]);
}

/** A payload the SQL path decided: its reading (valid narrow payloads only). */
export interface SqlReading {
  timestamp: number;
  deviceId: string;
  building: string;
  floor: number;
  type: string;
  value: number;
  unit: string;
}

/**
 * Decodes `texts` in SQL on `conn` (prepared for the catalogue): per text its reading, or null
 * when the JavaScript decoder must decide it. For tests and the decode benchmark; the pipeline
 * appends its payloads in chunks instead (batch.ts).
 */
export async function sqlDecodeTexts(
  conn: DuckDBConnection,
  texts: readonly string[],
  p: SqlDecodeParams,
): Promise<(SqlReading | null)[]> {
  await conn.run("CREATE OR REPLACE TEMP TABLE raw_payloads (rec INTEGER, payload VARCHAR)");
  await appendRows(conn, "raw_payloads", texts.map((t, i) => [i, t]));
  await runSqlDecode(conn, p);
  const reader = await conn.runAndReadAll(
    `SELECT rec, needs_js, ts::DOUBLE, device_id, building, floor, type, value, unit
     FROM sql_decoded ORDER BY rec`,
  );
  return reader.getRows().map(([, needsJs, ts, deviceId, building, floor, type, value, unit]) =>
    needsJs ? null : {
      timestamp: Number(ts),
      deviceId: String(deviceId),
      building: String(building),
      floor: Number(floor),
      type: String(type),
      value: Number(value),
      unit: String(unit),
    }
  );
}
