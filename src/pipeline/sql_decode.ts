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
import type { DuckDBConnection, DuckDBValue } from "@duckdb/node-api";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { SensorCatalogue } from "../reading/catalogue.ts";
import { loadCatalogueTables } from "../reading/catalogue_sql.ts";
import { appendRows } from "../duckdb/engine.ts";
import { futureDetailTail } from "../reading/decode.ts";

const SQL_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../sql/decode");
let prepareSql: string | undefined;
/** sql/decode/fast.sql's statements, parsed once. */
let fastSql: { sql: string; names: string[] }[] | undefined;

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
 * table `sql_decoded (rec, ts, device_id, building, floor, type, value, unit, reason, detail)`,
 * a row per payload SQL decided (sql/decode/fast.sql: valid readings and `future_timestamp` of
 * the canonical shape); the others are the JavaScript decoder's. `prepareSqlDecode` must have
 * run on `conn`.
 */
export async function runSqlDecode(conn: DuckDBConnection, p: SqlDecodeParams): Promise<void> {
  fastSql ??= parseStatements(await Deno.readTextFile(resolve(SQL_DIR, "fast.sql")));
  const params: Record<string, DuckDBValue> = {
    now: p.nowMs,
    tolerance: p.futureToleranceMs,
    max_bytes: p.maxBytes,
    detail_tail: futureDetailTail(p.nowMs, p.futureToleranceMs),
  };
  for (const { sql, names } of fastSql) {
    await conn.run(sql, Object.fromEntries(names.map((n) => [n, params[n]])));
  }
}

/** A file's statements, each with the `$name` parameters it uses (bound only those). */
function parseStatements(text: string): { sql: string; names: string[] }[] {
  const out: { sql: string; names: string[] }[] = [];
  for (const sql of text.split(/;\s*$/m)) {
    const code = sql.replace(/--.*$/gm, "");
    if (!/\S/.test(code)) continue;
    out.push({ sql, names: [...new Set([...code.matchAll(/\$([a-z_]+)/g)].map((m) => m[1]))] });
  }
  return out;
}

/** A payload the SQL path decided: its reading, or its reject (reason, detail, hints). */
export type SqlOutcome =
  | {
    ok: true;
    timestamp: number;
    deviceId: string;
    building: string;
    floor: number;
    type: string;
    value: number;
    unit: string;
  }
  | { ok: false; reason: string; detail: string; building: string; type: string };

/**
 * Decodes `texts` in SQL on `conn` (prepared for the catalogue): per text its outcome, or null
 * when the JavaScript decoder must decide it. For tests and the decode benchmark; the pipeline
 * appends its payloads in chunks instead (batch.ts).
 */
export async function sqlDecodeTexts(
  conn: DuckDBConnection,
  texts: readonly string[],
  p: SqlDecodeParams,
): Promise<(SqlOutcome | null)[]> {
  await conn.run("CREATE OR REPLACE TEMP TABLE raw_payloads (rec INTEGER, payload VARCHAR)");
  await appendRows(conn, "raw_payloads", texts.map((t, i) => [i, t]));
  await runSqlDecode(conn, p);
  const reader = await conn.runAndReadAll(
    `SELECT r.rec, d.rec IS NULL, d.ts::DOUBLE, d.device_id, d.building, d.floor, d.type,
       d.value, d.unit, d.reason, d.detail
     FROM raw_payloads r LEFT JOIN sql_decoded d USING (rec) ORDER BY r.rec`,
  );
  return reader.getRows().map((
    [, needsJs, ts, deviceId, building, floor, type, value, unit, reason, detail],
  ) =>
    needsJs ? null : reason !== null
      ? {
        ok: false,
        reason: String(reason),
        detail: String(detail),
        building: String(building),
        type: String(type),
      }
      : {
        ok: true,
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
