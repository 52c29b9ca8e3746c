/**
 * `deno task query ["SQL"] [--format table|csv|json|ndjson] [--as-of <version|ISO time>]` —
 * SQL over the lakehouse: views `bronze`, `silver`, `quarantine` and `gold_<name>`, each read
 * by delta_scan pinned to one committed version (consumers may keep writing meanwhile).
 * Without SQL: every table with its row count, latest version and last commit time.
 * Bad SQL prints DuckDB's message and exits 1.
 */
import { LAKEHOUSE_OPTION, parseCli, runMain, UsageError } from "../src/config.ts";
import { parseStats } from "../src/delta/actions.ts";
import { openDuckDB } from "../src/query/duckdb.ts";
import { type Cell, formatResult, FORMATS, isFormat, toResultTable } from "../src/query/format.ts";
import { isoFromMicros } from "../src/query/format.ts";
import { type AsOf, createLakehouseViews } from "../src/query/views.ts";

const USAGE = 'Usage: deno task query ["SQL"] [options]';

const SPECS = {
  ...LAKEHOUSE_OPTION,
  format: {
    type: "string",
    default: "table",
    description: `Output format: ${FORMATS.join(", ")}`,
  },
  "as-of": {
    type: "string",
    description: "Time travel: a table version (integer) or an ISO-8601 timestamp",
  },
} as const;

/** Parses --as-of: digits are a version, anything else must be a timestamp. */
function parseAsOf(value: string): AsOf | undefined {
  if (value === "") return undefined;
  if (/^\d+$/.test(value)) return { version: Number(value) };
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) {
    throw new UsageError(`--as-of must be a version or an ISO-8601 timestamp, got "${value}"`);
  }
  return { timestamp: new Date(ms) };
}

async function main(): Promise<number> {
  const { options, positionals } = parseCli(Deno.args, SPECS, USAGE);
  if (!isFormat(options.format)) {
    throw new UsageError(`--format must be one of ${FORMATS.join(", ")}, got "${options.format}"`);
  }
  if (positionals.length > 1) {
    throw new UsageError(`pass the SQL as one argument (quote it)\n\n${USAGE}`);
  }
  const asOf = parseAsOf(options["as-of"]);
  const db = await openDuckDB();
  try {
    const views = await createLakehouseViews(db.conn, options.lakehouse, {
      asOf,
      onSkip: (t, reason) =>
        console.error(`${t.view}: not available as of ${options["as-of"]} (${reason})`),
    });
    const sql = positionals[0];
    if (sql === undefined || sql.trim() === "") {
      if (views.length === 0) {
        console.error(
          `no tables under ${options.lakehouse} yet: run ingestion, then deno task gold`,
        );
      }
      const rows: Cell[][] = views.map((v) => [
        v.view,
        v.snapshot.files.reduce((n, f) => n + (parseStats(f)?.numRecords ?? 0), 0),
        v.version,
        isoFromMicros(BigInt(v.commitTimestamp) * 1000n),
        v.snapshot.files.length,
      ]);
      console.log(formatResult({
        columns: ["table", "rows", "version", "last_commit", "files"],
        types: ["VARCHAR", "BIGINT", "BIGINT", "TIMESTAMP WITH TIME ZONE", "BIGINT"],
        rows,
      }, options.format));
      return 0;
    }
    const result = await db.conn.runAndReadAll(sql);
    const out = formatResult(toResultTable(result), options.format);
    if (out !== "") console.log(out);
    return 0;
  } finally {
    db.close();
  }
}

if (import.meta.main) await runMain(main);
