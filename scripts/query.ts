/**
 * `deno task query ["SQL" | -f FILE | -] [options]` — read-only SQL over the lakehouse: views
 * `bronze`, `silver`, `quarantine` and `gold_<name>`, each read by delta_scan pinned to one
 * committed version (consumers may keep writing meanwhile). Several statements print one result
 * each. Without SQL: every table with its row count, latest version and last commit time.
 * Bad SQL prints DuckDB's message and exits 1.
 */
import {
  LAKEHOUSE_OPTION,
  numberOption,
  parseCli,
  parseInstant,
  resolveLakehouse,
  runMain,
  UsageError,
} from "../src/config.ts";
import { StatementType } from "@duckdb/node-api";
import { parseStats } from "../src/delta/actions.ts";
import { assertReadOnlyStatement, openDuckDB } from "../src/duckdb/engine.ts";
import {
  type Cell,
  type Format,
  formatResult,
  FORMATS,
  isFormat,
  isoFromMicros,
  TABLE_DEFAULTS,
  toResultTable,
} from "../src/query/format.ts";
import { toArrowIpc } from "../src/query/arrow.ts";
import { type AsOf, createLakehouseViews, type TimeTravel } from "../src/query/views.ts";

export const USAGE = 'Usage: deno task query ["SQL" | -f FILE | -] [options]';
/** The text formats, and `arrow`: binary, so it takes its own path. */
const OUTPUT_FORMATS = [...FORMATS, "arrow"] as const;

export const SPECS = {
  ...LAKEHOUSE_OPTION,
  file: { type: "string", short: "f", description: "Read the SQL from this file" },
  format: {
    type: "string",
    env: "QUERY_FORMAT",
    default: "table",
    description: `Output format: ${
      OUTPUT_FORMATS.join(", ")
    } (arrow: one Arrow IPC stream on stdout, for pandas, polars, pyarrow)`,
  },
  "max-width": {
    type: "string",
    env: "QUERY_MAX_WIDTH",
    default: String(TABLE_DEFAULTS.maxWidth),
    description: "table format: cut cells wider than this many characters (0: never)",
  },
  "show-rows": {
    type: "string",
    env: "QUERY_SHOW_ROWS",
    default: String(TABLE_DEFAULTS.maxRows),
    description: "table format: show at most this many rows, first and last (0: all)",
  },
  "max-rows": {
    type: "string",
    env: "QUERY_MAX_ROWS",
    description:
      "Deprecated alias of --show-rows (--max-rows is consume's and ingest-files' flush size)",
  },
  "as-of": {
    type: "string",
    env: "QUERY_AS_OF",
    multiple: true,
    description: "Time travel (repeatable): TABLE=VERSION, TABLE=ISO-TIME, or ISO-TIME for all",
  },
} as const;

/**
 * Parses the --as-of values. A version belongs to one table, so it must name it
 * (`silver=12`); a bare value must be a time, which every table can answer.
 */
export function parseTimeTravel(values: string[]): TimeTravel {
  const out: TimeTravel = { tables: {} };
  for (const raw of values.map((v) => v.trim()).filter(Boolean)) {
    const eq = raw.indexOf("=");
    const table = eq >= 0 ? raw.slice(0, eq).trim() : undefined;
    const value = eq >= 0 ? raw.slice(eq + 1).trim() : raw;
    const flag = `--as-of ${raw}`;
    if (table === undefined) {
      if (/^\d+$/.test(value)) {
        throw new UsageError(
          `${flag}: a version belongs to one table; name it (e.g. --as-of silver=${value}), ` +
            "or give an ISO-8601 time for all tables",
        );
      }
      if (out.at) throw new UsageError(`${flag}: only one time for all tables`);
      out.at = parseInstant(value, flag);
      continue;
    }
    if (!/^[a-z0-9_]+$/.test(table)) {
      throw new UsageError(`${flag}: "${table}" is not a view name (silver, gold_alarms, …)`);
    }
    const asOf: AsOf = /^\d+$/.test(value)
      ? { version: Number(value) }
      : { timestamp: parseInstant(value, flag) };
    out.tables![table] = asOf;
  }
  return out;
}

async function writeAll(
  out: { write(p: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await out.write(bytes.subarray(off));
}

async function readSql(file: string, positionals: string[]): Promise<string | undefined> {
  if (positionals.length > 1) {
    throw new UsageError(`pass the SQL as one argument (quote it)\n\n${USAGE}`);
  }
  if (file && positionals.length > 0) {
    throw new UsageError(`give the SQL either as an argument or with -f, not both\n\n${USAGE}`);
  }
  if (file === "-" || positionals[0] === "-") {
    return await new Response(Deno.stdin.readable).text();
  }
  if (file) return await Deno.readTextFile(file);
  return positionals[0];
}

/** Statements whose result is the answer the user wants printed. */
const RESULT_STATEMENTS = new Set<StatementType>([
  StatementType.SELECT,
  StatementType.EXPLAIN,
  StatementType.PRAGMA,
  StatementType.CALL,
  StatementType.EXECUTE,
]);

async function main(): Promise<number> {
  const { options, positionals } = parseCli(Deno.args, SPECS, USAGE);
  const arrow = options.format === "arrow";
  if (!arrow && !isFormat(options.format)) {
    throw new UsageError(
      `--format must be one of ${OUTPUT_FORMATS.join(", ")}, got "${options.format}"`,
    );
  }
  if (arrow && Deno.stdout.isTerminal()) {
    throw new UsageError(
      "--format arrow writes a binary Arrow IPC stream: redirect it to a file or a pipe " +
        "(e.g. | python -c 'import pyarrow as pa, sys; print(pa.ipc.open_stream(sys.stdin.buffer).read_all())')",
    );
  }
  const format = arrow ? "table" : options.format as Format;
  if (options["max-rows"]) {
    console.error("warning: query's --max-rows is deprecated; use --show-rows");
  }
  const table = {
    maxWidth: numberOption("max-width", options["max-width"], { min: 0, integer: true }),
    maxRows: options["max-rows"]
      ? numberOption("max-rows", options["max-rows"], { min: 0, integer: true })
      : numberOption("show-rows", options["show-rows"], { min: 0, integer: true }),
  };
  const asOf = parseTimeTravel(options["as-of"].split(","));
  const sql = await readSql(options.file, positionals);
  const lakehouse = await resolveLakehouse(options.lakehouse);
  const db = await openDuckDB({ readOnlyUnder: [`${lakehouse}/`] });
  try {
    const skipped: string[] = [];
    const views = await createLakehouseViews(db.conn, lakehouse, {
      asOf,
      onSkip: (t) => skipped.push(t.view),
    });
    if (skipped.length > 0) {
      console.error(
        `not yet created at ${asOf.at?.toISOString()}, so left out: ${skipped.join(", ")}`,
      );
    }
    if (sql === undefined || sql.trim() === "") {
      if (arrow) throw new UsageError("--format arrow needs a query (the table list is text)");
      if (views.length === 0) {
        console.error(`no tables under ${lakehouse} yet: run ingestion, then deno task gold`);
      }
      const rows: Cell[][] = views.map((v) => [
        v.view,
        v.snapshot.files.reduce((n, f) => n + (parseStats(f)?.numRecords ?? 0), 0),
        v.version,
        isoFromMicros(BigInt(v.commitTimestamp) * 1000n),
        v.snapshot.files.length,
      ]);
      console.log(formatResult(
        {
          columns: ["table", "rows", "version", "last_commit", "files"],
          types: ["VARCHAR", "BIGINT", "BIGINT", "TIMESTAMP WITH TIME ZONE", "BIGINT"],
          rows,
        },
        format,
        table,
      ));
      return 0;
    }
    // One statement at a time: each is checked before it runs, and each prints its result.
    const statements = await db.conn.extractStatements(sql).catch((err: Error) => {
      throw new Error(err.message.replace(/^Failed to extract statements: /, ""));
    });
    let printed = false;
    for (let i = 0; i < statements.count; i++) {
      let reader;
      let type;
      try {
        const prepared = await statements.prepare(i);
        type = prepared.statementType;
        assertReadOnlyStatement(type, sql);
        reader = await prepared.runAndReadAll();
      } catch (err) {
        const msg = (err as Error).message;
        if (!/disabled by configuration/.test(msg)) throw err;
        throw new Error(`${msg}\n(query reads files only under ${lakehouse} and writes none)`);
      }
      // CREATE, INSERT and the like answer with a row count nobody asked for.
      if (!RESULT_STATEMENTS.has(type)) continue;
      if (arrow) {
        // One stream holds one schema: a second result could not follow it.
        if (printed) throw new UsageError("--format arrow writes one result: give one query");
        await writeAll(Deno.stdout, toArrowIpc(reader));
        printed = true;
        continue;
      }
      const result = toResultTable(reader);
      const out = formatResult(result, format, table);
      if (printed && format === "table") console.log("");
      if (out !== "") console.log(out);
      printed = true;
    }
    return 0;
  } finally {
    db.close();
  }
}

if (import.meta.main) await runMain(main);
