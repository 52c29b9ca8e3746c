/**
 * `deno task gold [--once | --watch --interval S] [--full]` — materialise the gold tables
 * (sql/gold, sql/alarms) from silver, incrementally. Prints one line per table on stdout: mode,
 * rows, version, seconds. With --watch it refreshes every S seconds until Ctrl+C, printing only
 * when silver changed. All logic lives in src/gold/.
 */
import {
  LAKEHOUSE_OPTION,
  numberOption,
  parseCli,
  resolveLakehouse,
  runMain,
  UsageError,
} from "../src/config.ts";
import { type GoldTableResult, refreshGold } from "../src/gold/refresh.ts";
import { GOLD_TABLES } from "../src/gold/tables.ts";
import { startTicker } from "../src/progress.ts";

const USAGE = "Usage: deno task gold [--once | --watch --interval S] [--full] [options]";

const SPECS = {
  ...LAKEHOUSE_OPTION,
  once: { type: "boolean", description: "Refresh once and exit (the default)" },
  watch: {
    type: "boolean",
    env: "GOLD_WATCH",
    description: "Refresh every --interval seconds until Ctrl+C",
  },
  interval: {
    type: "string",
    env: "GOLD_INTERVAL",
    default: "5",
    description: "Seconds between refreshes with --watch",
  },
  full: { type: "boolean", description: "Recompute every table from all of silver" },
  threads: { type: "string", env: "DUCKDB_THREADS", description: "DuckDB threads" },
  table: {
    type: "string",
    env: "GOLD_TABLES",
    multiple: true,
    description: "Only this gold table (repeatable or comma-separated; default all)",
  },
} as const;

function report(results: GoldTableResult[]): void {
  const w = Math.max(...results.map((r) => r.table.length), 5);
  console.log(
    `${"table".padEnd(w)}  ${"mode".padEnd(11)}  ${"rows".padStart(10)}  ${
      "version".padStart(7)
    }  ${"seconds".padStart(7)}`,
  );
  for (const r of results) {
    console.log(
      `${r.table.padEnd(w)}  ${r.mode.padEnd(11)}  ${String(r.rows).padStart(10)}  ${
        String(r.version).padStart(7)
      }  ${r.seconds.toFixed(2).padStart(7)}`,
    );
  }
  const total = results.reduce((s, r) => s + r.seconds, 0);
  console.log(`silver v${results[0]?.silverVersion ?? "?"}, ${total.toFixed(2)} s in all`);
}

async function main(): Promise<void> {
  const { options, positionals } = parseCli(Deno.args, SPECS, USAGE);
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"\n\n${USAGE}`);
  }
  if (options.once && options.watch) throw new UsageError("--once and --watch exclude each other");
  const interval = numberOption("interval", options.interval, { min: 0.1 });
  const threads = options.threads
    ? numberOption("threads", options.threads, { integer: true, min: 1 })
    : undefined;
  const tables = options.table ? options.table.split(",").filter(Boolean) : undefined;
  const names = GOLD_TABLES.map((d) => d.name);
  const unknown = (tables ?? []).filter((t) => !names.includes(t));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown gold table${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; ` +
        `the gold tables are: ${names.join(", ")}`,
    );
  }
  const lakehouse = await resolveLakehouse(options.lakehouse);
  // In --watch mode an idle tick stays silent: only tables that changed are logged.
  const log = (l: string) => {
    if (!options.watch || !l.includes(": unchanged")) console.error(l);
  };
  const run = (full: boolean) => refreshGold(lakehouse, { full, threads, tables, log });

  if (!options.watch) {
    // One log line per table as it finishes; on a terminal a ticker shows the work in between.
    const total = tables?.length ?? names.length;
    let done = 0;
    const ticker = startTicker(() => `gold: ${done}/${total} tables refreshed …`);
    try {
      report(
        await refreshGold(lakehouse, {
          full: options.full,
          threads,
          tables,
          log: (l) => {
            done++;
            ticker.log(l);
          },
        }),
      );
    } finally {
      ticker.stop();
    }
    return;
  }
  let stop = false;
  let wake: () => void = () => {};
  const onSignal = () => {
    stop = true;
    wake();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    let first = true;
    while (!stop) {
      const results = await run(first && options.full);
      first = false;
      if (results.some((r) => r.mode !== "unchanged")) report(results);
      if (stop) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, interval * 1000);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    console.error("gold: stopped");
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) await runMain(main);
