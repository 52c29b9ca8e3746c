/**
 * The scenarios of `deno task bench` that need no broker: gold, delta, backfill, s3 and decode,
 * one runner each. Each returns the figures bench/run.ts stores under its name.
 *
 * @module
 */
import { refreshGold } from "../src/gold/refresh.ts";
import { type BackfillFigures, benchBackfill } from "./backfill_bench.ts";
import { benchDecode } from "./decode_bench.ts";
import {
  benchAppend,
  benchCommitLatency,
  benchLogCleanup,
  benchSnapshotLoad,
} from "./delta_bench.ts";
import {
  benchGoldFull,
  benchGoldIncremental,
  cleanupGoldBench,
  type GoldBenchResult,
} from "./gold_bench.ts";
import { benchDashboard } from "./lakehouse_bench.ts";
import { benchS3 } from "./s3_bench.ts";
import type { ScenarioContext } from "./sizes.ts";
import { figure } from "./stats.ts";

/** Reading interval of the gold benchmark's sparse shape (the main one is 1 s). */
const SPARSE_INTERVAL_S = 30;

/** Gold refreshes: full (dense and sparse), incremental, and the dashboard's queries. */
export async function goldScenario(ctx: ScenarioContext): Promise<unknown> {
  const { sizes, log } = ctx;
  /** A fresh lakehouse's first full refresh, then `runs - 1` more over the same silver. */
  const fullRefreshes = async (intervalS?: number) => {
    const first = await benchGoldFull(sizes.goldRows, { intervalS });
    const seconds = [first.seconds];
    for (let i = 1; i < sizes.runs; i++) {
      const s0 = performance.now();
      await refreshGold(first.lakehouse, { full: true });
      seconds.push((performance.now() - s0) / 1000);
    }
    log(
      `  full refresh over ${first.silverRows} rows, 1 reading/${first.intervalS} s: ${
        seconds.map((x) => x.toFixed(2)).join(", ")
      } s (setup ${first.setupSeconds.toFixed(1)} s)`,
    );
    return { first, seconds };
  };
  const tableSeconds = (tables: GoldBenchResult["tables"]) =>
    Object.fromEntries(tables.map((t) => [t.table, Number(t.seconds.toFixed(3))]));
  const incr: number[] = [];
  try {
    const { first, seconds: full } = await fullRefreshes();
    let tables: Record<string, number> = {};
    for (let i = 0; i < sizes.runs; i++) {
      const r = await benchGoldIncremental(sizes.goldIncrementalRows, {
        lakehouse: first.lakehouse,
      });
      incr.push(r.seconds);
      tables = tableSeconds(r.tables);
      log(`  incremental after ${r.newRows} rows: ${r.seconds.toFixed(2)} s`);
    }
    const dashboard = await benchDashboard(first.lakehouse, sizes.dashboardRuns);
    await cleanupGoldBench();
    // The sparse shape: devices every 30 s, so minutes hold 2 readings and the per-minute
    // tables are half as long as silver (the same 10M rows, 30x the gold rows).
    const { first: s1, seconds: sparse } = await fullRefreshes(SPARSE_INTERVAL_S);
    return {
      silverRows: sizes.goldRows,
      intervalS: first.intervalS,
      sparseIntervalS: SPARSE_INTERVAL_S,
      sparseFullRefreshSeconds: figure(sparse, "s"),
      sparseFullRefreshTables: tableSeconds(s1.tables),
      fullRefreshSeconds: figure(full, "s"),
      fullRefreshTables: tableSeconds(first.tables),
      incrementalRows: sizes.goldIncrementalRows,
      incrementalRefreshSeconds: figure(incr, "s"),
      incrementalTables: tables,
      dashboard,
    };
  } finally {
    await cleanupGoldBench();
  }
}

/** Our Delta kernel: append throughput, commit latency, snapshot load and log cleanup. */
export async function deltaScenario(ctx: ScenarioContext): Promise<unknown> {
  const { sizes } = ctx;
  const append: number[] = [];
  const commitMs: number[] = [];
  for (let i = 0; i < sizes.runs; i++) {
    append.push(await benchAppend(sizes.appendRows));
    commitMs.push(await benchCommitLatency(sizes.commits));
  }
  const snapshot = await benchSnapshotLoad(sizes.snapshotCommits);
  const cleanup = await benchLogCleanup(sizes.snapshotCommits);
  return {
    appendRows: sizes.appendRows,
    appendRowsPerSec: figure(append, "rows/s", 0),
    commits: sizes.commits,
    commitLatencyMs: figure(commitMs, "ms"),
    snapshotCommits: sizes.snapshotCommits,
    // benchSnapshotLoad is itself the median of 3 cold loads of one 10,000-commit table.
    snapshotLoadMs: figure([snapshot], "ms", 1),
    logCleanupDeleted: cleanup.deleted,
    logCleanupPasses: cleanup.passes,
    logCleanupUsPerFile: figure([cleanup.usPerFile], "µs", 0),
    logCleanupIdleMs: figure([cleanup.idleMs], "ms", 1),
  };
}

/** Live vs backfill vs resent readings into a silver table that already holds many. */
export async function backfillScenario(ctx: ScenarioContext): Promise<unknown> {
  const { sizes, log } = ctx;
  const runs: BackfillFigures[] = [];
  for (let i = 0; i < sizes.runs; i++) {
    const r = await benchBackfill(sizes.backfillSilverRows, sizes.backfillRows, ctx.lakehouse());
    log(
      `  run ${i + 1}: live ${r.liveRowsPerSec} rows/s, backfill ${r.backfillRowsPerSec} ` +
        `rows/s, resend ${r.resendRowsPerSec} rows/s`,
    );
    runs.push(r);
  }
  return {
    silverRows: sizes.backfillSilverRows,
    backfillRows: sizes.backfillRows,
    liveRowsPerSec: figure(runs.map((r) => r.liveRowsPerSec), "rows/s", 0),
    backfillRowsPerSec: figure(runs.map((r) => r.backfillRowsPerSec), "rows/s", 0),
    resendRowsPerSec: figure(runs.map((r) => r.resendRowsPerSec), "rows/s", 0),
    backfillSilverRows: runs[0].backfillSilverRows,
    resendDuplicates: runs[0].resendDuplicates,
  };
}

/** Local vs s3:// (S3Proxy) appends and commits. */
export function s3Scenario(ctx: ScenarioContext): Promise<unknown> {
  const { sizes } = ctx;
  return benchS3({
    runs: sizes.runs,
    // The same table shape as the delta scenario, a tenth of its rows: S3Proxy shares the disk.
    appendRows: Math.round(sizes.appendRows / 10),
    commits: Math.min(sizes.commits, 100),
  }, ctx.log);
}

/** decodeReading throughput. */
export function decodeScenario(ctx: ScenarioContext): Promise<unknown> {
  const { sizes } = ctx;
  const rates: number[] = [];
  for (let i = 0; i < sizes.runs; i++) rates.push(benchDecode(sizes.decodeMessages).msgsPerSec);
  return Promise.resolve({
    messages: sizes.decodeMessages,
    msgsPerSec: figure(rates, "msg/s", 0),
  });
}
