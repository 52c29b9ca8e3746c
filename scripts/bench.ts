/**
 * `deno task bench [--quick] [--out DIR]`: the performance figures (producer, pipeline,
 * freshness, memory, Delta, gold, dashboard, peers), from one harness anyone can rerun
 * (bench/run.ts). Progress on stderr, the figures table on stdout, results in
 * `<out>/latest.json` and `<out>/latest.md`.
 */
import {
  COMMON_OPTIONS,
  numberOption,
  type OptionSpecs,
  parseCli,
  runMain,
  UsageError,
} from "../src/config.ts";
import { runBench, SCENARIOS } from "../bench/run.ts";
import { dashboardTable, figuresTable } from "../bench/report.ts";

export const OPTIONS = {
  brokers: COMMON_OPTIONS.brokers,
  quick: {
    type: "boolean",
    env: "BENCH_QUICK",
    description: "Small sizes, one run each (a smoke test, under 2 minutes)",
  },
  out: {
    type: "string",
    env: "BENCH_OUT",
    default: "bench/results",
    description: "Directory for latest.json and latest.md",
  },
  only: {
    type: "string",
    env: "BENCH_ONLY",
    default: "",
    description: `Comma-separated scenarios to run (default all): ${SCENARIOS.join(", ")}`,
  },
  peers: {
    type: "string",
    env: "BENCH_PEERS",
    default: "",
    description:
      "Extra peers of the peers scenario: spark (pyspark + delta-spark + Maven's Kafka source, a venv under .cache)",
  },
  "peers-messages": {
    type: "string",
    env: "BENCH_PEERS_MESSAGES",
    default: "",
    description:
      "Topic length of each topic of the peers and rejects scenarios (default 1000000, quick 50000)",
  },
  "backfill-rows": {
    type: "string",
    env: "BENCH_BACKFILL_ROWS",
    default: "",
    description:
      "Readings one day older than silver's in the backfill scenario (default 1000000, quick 20000)",
  },
  "soak-minutes": {
    type: "string",
    env: "BENCH_SOAK_MINUTES",
    default: "",
    description: "Length of the soak scenario, minutes (default 10, quick 1)",
  },
  "backfill-silver-rows": {
    type: "string",
    env: "BENCH_BACKFILL_SILVER_ROWS",
    default: "",
    description: "Readings in silver before the backfill (default 10000000, quick 200000)",
  },
} as const satisfies OptionSpecs;

await runMain(async () => {
  const { options: o, positionals } = parseCli(
    Deno.args,
    OPTIONS,
    "Usage: deno task bench [--quick] [--out DIR] [--only a,b] [--peers spark] " +
      "[--peers-messages N] [--backfill-rows N] [--backfill-silver-rows N] [--soak-minutes N]",
  );
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const only = o.only ? o.only.split(",").map((s) => s.trim()).filter(Boolean) : undefined;
  for (const s of only ?? []) {
    if (!(SCENARIOS as readonly string[]).includes(s)) {
      throw new UsageError(`--only: unknown scenario "${s}" (${SCENARIOS.join(", ")})`);
    }
  }
  const peers = o.peers ? o.peers.split(",").map((s) => s.trim()).filter(Boolean) : undefined;
  for (const p of peers ?? []) {
    if (p !== "spark") throw new UsageError(`--peers: unknown peer "${p}" (spark)`);
  }
  const results = await runBench({
    quick: o.quick,
    brokers: o.brokers,
    outDir: o.out,
    // Children are spawned as "deno": the task's --allow-run names it so (see deno.json).
    deno: "deno",
    only,
    peers,
    peersMessages: o["peers-messages"]
      ? numberOption("peers-messages", o["peers-messages"], { integer: true, min: 1 })
      : undefined,
    backfillRows: o["backfill-rows"]
      ? numberOption("backfill-rows", o["backfill-rows"], { integer: true, min: 1 })
      : undefined,
    soakMinutes: o["soak-minutes"]
      ? numberOption("soak-minutes", o["soak-minutes"], { min: 0.1 })
      : undefined,
    backfillSilverRows: o["backfill-silver-rows"]
      ? numberOption("backfill-silver-rows", o["backfill-silver-rows"], { integer: true, min: 1 })
      : undefined,
  });
  console.log(figuresTable(results));
  const dash = dashboardTable(results);
  if (dash) console.log("\n" + dash);
  console.error(
    `bench: wrote ${o.out}/latest.json and ${o.out}/latest.md in ${results.durationSeconds} s`,
  );
  const failed = Object.entries(results.figures).filter(([, v]) =>
    v !== null && typeof v === "object" && "error" in v
  );
  if (failed.length) {
    console.error(`bench: failed scenarios: ${failed.map(([k]) => k).join(", ")}`);
    return 1;
  }
});
