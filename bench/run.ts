/**
 * The `deno task bench` harness: every scenario against the local broker and fresh
 * lakehouses in a temp dir, each figure the median of several runs with min and max, ratios
 * taken pair by pair within a run; results as JSON and Markdown.
 *
 * Order matters on a 2-core machine: scenarios run one after another, never overlapping, so
 * each measures itself and not its neighbour. The broker is the one that answers at `brokers`;
 * when none does, a throw-away one is started (and stopped at the end) like scripts/test.ts.
 *
 * @module
 */
import { join } from "node:path";
import { brokerList } from "../src/config.ts";
import { createKafka } from "../src/kafka/client.ts";
import { type BrokerInUse, useOrStartBroker } from "../src/kafka/local_broker.ts";
import { ensureDeltaExtension } from "../src/duckdb/extension.ts";
import { ROOT } from "../src/tasks.ts";
import { refreshGold } from "../src/gold/refresh.ts";
import { benchDecode } from "./decode_bench.ts";
import { benchS3 } from "./s3_bench.ts";
import {
  benchAppend,
  benchCommitLatency,
  benchLogCleanup,
  benchSnapshotLoad,
} from "./delta_bench.ts";
import { benchFreshness, type FreshnessRun } from "./freshness_bench.ts";
import {
  benchGoldFull,
  benchGoldIncremental,
  cleanupGoldBench,
  type GoldBenchResult,
} from "./gold_bench.ts";

/** Reading interval of the gold benchmark's sparse shape (the main one is 1 s). */
const SPARSE_INTERVAL_S = 30;
import {
  BENCH_SITE,
  benchBareConsumer,
  benchPipeline,
  benchProduce,
  canMeasureRss,
  deleteTopics,
  type KafkaBenchEnv,
  type ProducerConfig,
} from "./kafka_bench.ts";
import { benchDashboard, benchOptimize } from "./lakehouse_bench.ts";
import {
  cpuTicks,
  denoVersions,
  duckdbVersion,
  kafkajsVersion,
  kafkaVersion,
  loadNotes,
  type MachineInfo,
  machineInfo,
  stealPercent,
  type Versions,
} from "./machine.ts";
import { benchPeers, type PeersResult } from "./peers_bench.ts";
import { renderMarkdown } from "./report.ts";
import { figure, pairRatios } from "./stats.ts";
import { type BackfillFigures, benchBackfill } from "./backfill_bench.ts";

/** Sizes and repetitions of one bench mode. */
export interface BenchSizes {
  runs: number;
  producerMessages: number;
  freshnessSeconds: number;
  freshnessRate: number;
  freshnessRuns: number;
  goldRows: number;
  goldIncrementalRows: number;
  dashboardRuns: number;
  backlogMessages: number;
  memoryRuns: number;
  appendRows: number;
  commits: number;
  snapshotCommits: number;
  decodeMessages: number;
  /** Messages produced and read back, untimed, before the Kafka scenarios (0: none). */
  warmupMessages: number;
  /** Topic length of the peers scenario (consume vs the Python and Spark peers). */
  peersMessages: number;
  /** Backfill scenario: readings in silver first, then readings one day older than them. */
  backfillSilverRows: number;
  backfillRows: number;
}

/** Full: the sizes docs/performance.md's figures are measured at. Quick: a smoke test that finishes in under 2 minutes. */
export const SIZES: Record<"full" | "quick", BenchSizes> = {
  full: {
    runs: 3,
    producerMessages: 1_000_000,
    freshnessSeconds: 60,
    freshnessRate: 10_000,
    freshnessRuns: 3,
    goldRows: 10_000_000,
    goldIncrementalRows: 100_000,
    dashboardRuns: 20,
    backlogMessages: 5_000_000,
    memoryRuns: 3,
    appendRows: 1_000_000,
    commits: 200,
    snapshotCommits: 10_000,
    decodeMessages: 500_000,
    warmupMessages: 3_000_000,
    peersMessages: 1_000_000,
    backfillSilverRows: 10_000_000,
    backfillRows: 1_000_000,
  },
  quick: {
    runs: 1,
    producerMessages: 100_000,
    freshnessSeconds: 10,
    freshnessRate: 10_000,
    freshnessRuns: 1,
    goldRows: 200_000,
    goldIncrementalRows: 20_000,
    dashboardRuns: 5,
    backlogMessages: 200_000,
    memoryRuns: 1,
    appendRows: 100_000,
    commits: 50,
    snapshotCommits: 1_000,
    decodeMessages: 100_000,
    warmupMessages: 0,
    peersMessages: 100_000,
    backfillSilverRows: 200_000,
    backfillRows: 20_000,
  },
};

/** The producer configurations compared: before (single thread, old defaults) and after. */
export const PRODUCERS: Record<"before" | "after", ProducerConfig> = {
  before: { workers: 1, acks: -1, batchSize: 5000 },
  after: { workers: 2, acks: 1, batchSize: 1000 },
};

/** Options of {@link runBench}. */
export interface BenchOptions {
  quick: boolean;
  brokers: string;
  /** Where latest.json and latest.md go. */
  outDir: string;
  /** The deno executable for child processes. */
  deno: string;
  log?: (line: string) => void;
  /** Only these scenarios (default all): see SCENARIOS. */
  only?: string[];
  /** Overrides the mode's `peersMessages`. */
  peersMessages?: number;
  /** Override the mode's backfill sizes. */
  backfillSilverRows?: number;
  backfillRows?: number;
  /** Extra peers of the peers scenario: "spark". */
  peers?: string[];
}

/** The JSON written to latest.json. */
export interface BenchResults {
  schema: "smarttech-bench/1";
  mode: "full" | "quick";
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  machine: MachineInfo & {
    loadAverageAtEnd: number[];
    /** CPU time stolen by the hypervisor during the run, % (null: unknown). */
    cpuStealPercent?: number | null;
  };
  versions: Versions;
  sizes: BenchSizes;
  /** Scenario → figures, or `{ error }` when it failed. */
  figures: Record<string, unknown>;
  notes: string[];
}

/** Scenario names, in run order. */
export const SCENARIOS = [
  "producer",
  "pipeline",
  "freshness",
  "memory",
  "peers",
  "gold",
  "delta",
  "backfill",
  "decode",
  "s3",
] as const;

/** Runs the benchmarks and writes `<outDir>/latest.json` and `latest.md`. */
export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const mode = opts.quick ? "quick" : "full";
  const sizes = {
    ...SIZES[mode],
    peersMessages: opts.peersMessages ?? SIZES[mode].peersMessages,
    backfillSilverRows: opts.backfillSilverRows ?? SIZES[mode].backfillSilverRows,
    backfillRows: opts.backfillRows ?? SIZES[mode].backfillRows,
  };
  const started = new Date();
  const t0 = performance.now();
  const machine = machineInfo();
  const ticksAtStart = await cpuTicks();
  const notes: string[] = [];
  const figures: Record<string, unknown> = {};
  const want = (s: string) => !opts.only || opts.only.includes(s);
  const env: KafkaBenchEnv = { brokers: opts.brokers, deno: opts.deno, log };
  const runId = crypto.randomUUID().slice(0, 8);
  const topics: string[] = [];
  const topic = (name: string) => {
    const t = `bench-${runId}-${name}`;
    topics.push(t);
    return t;
  };
  const tmp = await Deno.makeTempDir({ prefix: "smarttech-bench-" });
  let lakehouses = 0;
  const lakehouse = () => join(tmp, `lh${++lakehouses}`);

  await ensureDeltaExtension();
  // The broker: the one that answers, else a throw-away one we stop afterwards.
  let broker: BrokerInUse | null = null;
  let brokerPid: number | null = null;
  const needKafka = SCENARIOS.filter((s) =>
    ["producer", "pipeline", "freshness", "memory", "peers"].includes(s)
  )
    .some(want);
  if (needKafka) {
    broker = await useOrStartBroker(brokerList(opts.brokers), {
      stateDir: join(ROOT, ".cache/kafka/bench"),
      graceMs: 15_000,
    });
    if (broker.started) {
      brokerPid = broker.started.pid;
      log(`bench broker up at ${broker.started.brokers} (pid ${brokerPid})`);
      notes.push("Kafka: a throw-away local broker was started for this run.");
    } else {
      brokerPid = await Deno.readTextFile(join(ROOT, ".cache/kafka/run/broker.pid"))
        .then((s) => Number(s.trim()) || null, () => null);
      log(`using the Kafka broker that answers at ${opts.brokers}`);
    }
  }
  const stopBroker = async () => {
    if (broker?.started) {
      await broker.stop();
      log("bench broker stopped");
    }
  };
  const onSignal = () => {
    stopBroker().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const kafkaV = needKafka
    ? await kafkaVersion(
      createKafka({ brokers: brokerList(opts.brokers), clientId: "bench" }),
      brokerPid,
    )
    : { version: "not measured", source: "no Kafka scenario selected" };
  const versions: Versions = {
    ...denoVersions(),
    kafka: kafkaV.version,
    kafkaSource: kafkaV.source,
    duckdb: await duckdbVersion(),
    kafkajs: kafkajsVersion(),
  };

  const scenario = async (name: string, fn: () => Promise<unknown>) => {
    if (!want(name)) return;
    const s0 = performance.now();
    log(`bench: ${name} …`);
    try {
      figures[name] = await fn();
    } catch (err) {
      figures[name] = { error: (err as Error)?.message ?? String(err) };
      log(`bench: ${name} FAILED: ${(err as Error)?.stack ?? err}`);
    }
    log(`bench: ${name} done in ${((performance.now() - s0) / 1000).toFixed(1)} s`);
  };

  let pipelineTopic: string | null = null;
  try {
    // A freshly started broker JVM serves its first millions of messages markedly slower (its
    // hot paths are not compiled yet): on this machine 2-worker bursts ran at ~180k msg/s on a
    // fresh broker and ~215k after 4M messages. Warm it up, untimed, as a JVM benchmark does.
    const kafkaScenarios = ["producer", "pipeline", "freshness", "memory", "peers"];
    if (sizes.warmupMessages > 0 && kafkaScenarios.some(want)) {
      const w0 = performance.now();
      const t = topic("warmup");
      await benchProduce(env, t, sizes.warmupMessages, PRODUCERS.after);
      await benchBareConsumer(env, t);
      log(
        `bench: broker warmed up with ${sizes.warmupMessages} messages in ${
          ((performance.now() - w0) / 1000).toFixed(1)
        } s (untimed)`,
      );
      notes.push(`broker warm-up: ${sizes.warmupMessages} messages produced and read, untimed`);
    }
    await scenario("producer", async () => {
      const before: { msgs: number[]; mb: number[] } = { msgs: [], mb: [] };
      const after: { msgs: number[]; mb: number[] } = { msgs: [], mb: [] };
      for (let i = 0; i < sizes.runs; i++) {
        for (
          const [cfgName, cfg, acc] of [
            ["before", PRODUCERS.before, before],
            ["after", PRODUCERS.after, after],
          ] as const
        ) {
          const t = topic(`produce-${cfgName}-${i}`);
          const r = await benchProduce(env, t, sizes.producerMessages, cfg);
          if (i === 0 && cfgName === "before") pipelineTopic = t;
          acc.msgs.push(r.msgsPerSec);
          acc.mb.push(r.mbPerSec);
          log(`  producer ${cfgName} run ${i + 1}: ${r.msgsPerSec} msg/s, ${r.mbPerSec} MB/s`);
        }
      }
      return {
        messages: sizes.producerMessages,
        site: BENCH_SITE.join(" ") + " --faults light",
        before: {
          config: PRODUCERS.before,
          msgsPerSec: figure(before.msgs, "msg/s", 0),
          mbPerSec: figure(before.mb, "MB/s"),
        },
        after: {
          config: PRODUCERS.after,
          msgsPerSec: figure(after.msgs, "msg/s", 0),
          mbPerSec: figure(after.mb, "MB/s"),
        },
        speedup: figure(pairRatios(after.msgs, before.msgs), "x"),
      };
    });

    await scenario("pipeline", async () => {
      let t = pipelineTopic;
      if (!t) {
        t = topic("pipeline");
        await benchProduce(env, t, sizes.producerMessages, PRODUCERS.after);
      }
      const bare: number[] = [];
      const pipe: number[] = [];
      for (let i = 0; i < sizes.runs; i++) {
        const b = await benchBareConsumer(env, t);
        const p = await benchPipeline(env, t, lakehouse());
        if (b.records !== p.records) {
          notes.push(
            `pipeline run ${i + 1}: bare read ${b.records}, pipeline ${p.records} records`,
          );
        }
        bare.push(b.msgsPerSec);
        pipe.push(p.msgsPerSec);
        log(`  run ${i + 1}: bare ${b.msgsPerSec} msg/s, pipeline ${p.msgsPerSec} msg/s`);
      }
      return {
        messages: sizes.producerMessages,
        bareMsgsPerSec: figure(bare, "msg/s", 0),
        pipelineMsgsPerSec: figure(pipe, "msg/s", 0),
        ratio: figure(pairRatios(pipe, bare), "pipeline/bare", 3),
      };
    });

    await scenario("freshness", async () => {
      const runs: FreshnessRun[] = [];
      for (let i = 0; i < sizes.freshnessRuns; i++) {
        const r = await benchFreshness(
          env,
          topic(`fresh-${i}`),
          lakehouse(),
          sizes.freshnessSeconds,
          sizes.freshnessRate,
        );
        runs.push(r);
        log(
          `  run ${
            i + 1
          }: p50 ${r.p50Ms} p95 ${r.p95Ms} p99 ${r.p99Ms} ms (${r.probes} probes, ${r.missing} missing)`,
        );
      }
      return {
        rate: sizes.freshnessRate,
        seconds: sizes.freshnessSeconds,
        p50Ms: figure(runs.map((r) => r.p50Ms), "ms", 0),
        p95Ms: figure(runs.map((r) => r.p95Ms), "ms", 0),
        p99Ms: figure(runs.map((r) => r.p99Ms), "ms", 0),
        maxMs: figure(runs.map((r) => r.maxMs), "ms", 0),
        probes: runs.reduce((s, r) => s + r.probes, 0),
        missing: runs.reduce((s, r) => s + r.missing, 0),
        meanCommitIntervalMs: figure(runs.map((r) => r.meanCommitIntervalMs), "ms", 0),
        runs,
      };
    });

    await scenario("memory", async () => {
      const t = topic("backlog");
      const prod = await benchProduce(env, t, sizes.backlogMessages, PRODUCERS.after);
      log(`  backlog of ${prod.sent} messages produced at ${prod.msgsPerSec} msg/s`);
      const measure = await canMeasureRss();
      if (!measure) notes.push("memory: /usr/bin/time missing, peak RSS not measured");
      const rss: number[] = [];
      const rates: number[] = [];
      let last = "";
      for (let i = 0; i < sizes.memoryRuns; i++) {
        last = lakehouse();
        const p = await benchPipeline(env, t, last, { measureRss: measure });
        if (p.peakRssBytes !== null) rss.push(p.peakRssBytes / 1048576);
        rates.push(p.msgsPerSec);
        log(
          `  run ${i + 1}: peak RSS ${
            p.peakRssBytes ? Math.round(p.peakRssBytes / 1048576) : "?"
          } MiB, ${p.msgsPerSec} msg/s`,
        );
      }
      // Table health: the lakehouse of the last drain, as streaming ingestion left it.
      const health = {
        bronze: await benchOptimize(join(last, "bronze")),
        silver: await benchOptimize(join(last, "silver")),
      };
      return {
        backlog: sizes.backlogMessages,
        backlogProducedMsgsPerSec: prod.msgsPerSec,
        peakRssMiB: rss.length ? figure(rss, "MiB", 0) : null,
        drainMsgsPerSec: figure(rates, "msg/s", 0),
        tableHealth: health,
      };
    });
    await scenario("peers", async () => {
      const t = topic("peers");
      await benchProduce(env, t, sizes.peersMessages, PRODUCERS.after);
      return benchPeers(env, t, sizes.peersMessages, sizes.runs, lakehouse, {
        spark: opts.peers?.includes("spark"),
      });
    });
    const python = (figures.peers as PeersResult | undefined)?.python;
    if (python && "skipped" in python) notes.push(`peers: Python peer skipped (${python.skipped})`);
    // Table health was measured on the memory scenario's lakehouse; report it on its own.
    const mem = figures.memory as { tableHealth?: unknown } | undefined;
    if (mem?.tableHealth) {
      figures.tableHealth = mem.tableHealth;
      delete mem.tableHealth;
    }
    // Broker work is over: free its disk before the lakehouse scenarios.
    await deleteTopics(opts.brokers, topics).catch((e) => log(`deleting topics: ${e}`));

    await scenario("gold", async () => {
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
    });

    await scenario("delta", async () => {
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
    });

    await scenario("backfill", async () => {
      const runs: BackfillFigures[] = [];
      for (let i = 0; i < sizes.runs; i++) {
        const r = await benchBackfill(sizes.backfillSilverRows, sizes.backfillRows, lakehouse());
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
    });

    await scenario("s3", () =>
      benchS3({
        runs: sizes.runs,
        // The same table shape as the delta scenario, a tenth of its rows: S3Proxy shares the disk.
        appendRows: Math.round(sizes.appendRows / 10),
        commits: Math.min(sizes.commits, 100),
      }, log));

    await scenario("decode", () => {
      const rates: number[] = [];
      for (let i = 0; i < sizes.runs; i++) rates.push(benchDecode(sizes.decodeMessages).msgsPerSec);
      return Promise.resolve({
        messages: sizes.decodeMessages,
        msgsPerSec: figure(rates, "msg/s", 0),
      });
    });
  } finally {
    await deleteTopics(opts.brokers, topics).catch(() => {});
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await stopBroker();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  const steal = stealPercent(ticksAtStart, await cpuTicks());
  notes.push(...loadNotes(machine, steal));
  const results: BenchResults = {
    schema: "smarttech-bench/1",
    mode,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    durationSeconds: Math.round((performance.now() - t0) / 1000),
    machine: {
      ...machine,
      loadAverageAtEnd: Deno.loadavg().map((x) => Number(x.toFixed(2))),
      cpuStealPercent: steal,
    },
    versions,
    sizes,
    figures,
    notes,
  };
  await Deno.mkdir(opts.outDir, { recursive: true });
  await Deno.writeTextFile(
    join(opts.outDir, "latest.json"),
    JSON.stringify(results, null, 2) + "\n",
  );
  await Deno.writeTextFile(join(opts.outDir, "latest.md"), renderMarkdown(results));
  return results;
}
