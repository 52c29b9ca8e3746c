/**
 * The Kafka scenarios of `deno task bench`, one runner each: producer, pipeline, freshness,
 * memory, peers, rejects, alarm-latency and soak, plus the untimed broker warm-up before them. Each returns the figures
 * bench/run.ts stores under its name.
 *
 * @module
 */
import { join } from "node:path";
import { benchFreshness, type FreshnessRun } from "./freshness_bench.ts";
import {
  BENCH_SITE,
  benchBareConsumer,
  benchPipeline,
  benchProduce,
  canMeasureRss,
} from "./kafka_bench.ts";
import { benchOptimize } from "./lakehouse_bench.ts";
import { benchPeers } from "./peers_bench.ts";
import { benchRejects } from "./rejects_bench.ts";
import { alarmLatency } from "./alarm_latency.ts";
import { soak } from "./soak.ts";
import { PRODUCERS, type ScenarioContext } from "./sizes.ts";
import { figure, pairRatios } from "./stats.ts";

/** The scenarios that need a broker. */
export const KAFKA_SCENARIOS = [
  "producer",
  "pipeline",
  "freshness",
  "memory",
  "peers",
  "rejects",
  "alarm-latency",
  "soak",
] as const;

/**
 * A freshly started broker JVM serves its first millions of messages markedly slower (its hot
 * paths are not compiled yet): on this machine 2-worker bursts ran at ~180k msg/s on a fresh
 * broker and ~215k after 4M messages. Warm it up, untimed, as a JVM benchmark does.
 */
export async function warmUpBroker(ctx: ScenarioContext): Promise<void> {
  const { sizes, env, log } = ctx;
  const w0 = performance.now();
  const t = ctx.topic("warmup");
  await benchProduce(env, t, sizes.warmupMessages, PRODUCERS.after);
  await benchBareConsumer(env, t);
  log(
    `bench: broker warmed up with ${sizes.warmupMessages} messages in ${
      ((performance.now() - w0) / 1000).toFixed(1)
    } s (untimed)`,
  );
  ctx.notes.push(`broker warm-up: ${sizes.warmupMessages} messages produced and read, untimed`);
}

/**
 * Burst production, before vs after configuration, alternating. `onFirstTopic` hears of the
 * first run's topic, which the pipeline scenario reads instead of producing its own.
 */
export async function producerScenario(
  ctx: ScenarioContext,
  onFirstTopic: (topic: string) => void,
): Promise<unknown> {
  const { sizes, env, log } = ctx;
  const before: { msgs: number[]; mb: number[] } = { msgs: [], mb: [] };
  const after: { msgs: number[]; mb: number[] } = { msgs: [], mb: [] };
  for (let i = 0; i < sizes.runs; i++) {
    for (
      const [cfgName, cfg, acc] of [
        ["before", PRODUCERS.before, before],
        ["after", PRODUCERS.after, after],
      ] as const
    ) {
      const t = ctx.topic(`produce-${cfgName}-${i}`);
      const r = await benchProduce(env, t, sizes.producerMessages, cfg);
      if (i === 0 && cfgName === "before") onFirstTopic(t);
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
}

/** A bare consumer (the ceiling) vs the pipeline over the same topic, pair by pair. */
export async function pipelineScenario(
  ctx: ScenarioContext,
  topic: string | null,
): Promise<unknown> {
  const { sizes, env, log } = ctx;
  let t = topic;
  if (!t) {
    t = ctx.topic("pipeline");
    await benchProduce(env, t, sizes.producerMessages, PRODUCERS.after);
  }
  const bare: number[] = [];
  const pipe: number[] = [];
  for (let i = 0; i < sizes.runs; i++) {
    const b = await benchBareConsumer(env, t);
    const p = await benchPipeline(env, t, ctx.lakehouse());
    if (b.records !== p.records) {
      ctx.notes.push(
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
}

/** Produce → visible latency at a steady rate. */
export async function freshnessScenario(ctx: ScenarioContext): Promise<unknown> {
  const { sizes, env, log } = ctx;
  const runs: FreshnessRun[] = [];
  for (let i = 0; i < sizes.freshnessRuns; i++) {
    const r = await benchFreshness(
      env,
      ctx.topic(`fresh-${i}`),
      ctx.lakehouse(),
      sizes.freshnessSeconds,
      sizes.freshnessRate,
    );
    runs.push(r);
    log(
      `  run ${
        i + 1
      }: p50 ${r.p50Ms} p95 ${r.p95Ms} p99 ${r.p99Ms} ms (${r.probes} probes, ${r.missing} missing), consume ${
        r.consumeCpuSeconds ?? "?"
      } CPU s`,
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
    consumeCpuSeconds: figure(runs.flatMap((r) => r.consumeCpuSeconds ?? []), "CPU s", 0),
    runs,
  };
}

/**
 * Peak RSS while draining a backlog, and the table health the drain left (bench/run.ts reports
 * `tableHealth` on its own).
 */
export async function memoryScenario(ctx: ScenarioContext): Promise<unknown> {
  const { sizes, env, log } = ctx;
  const t = ctx.topic("backlog");
  const prod = await benchProduce(env, t, sizes.backlogMessages, PRODUCERS.after);
  log(`  backlog of ${prod.sent} messages produced at ${prod.msgsPerSec} msg/s`);
  const measure = await canMeasureRss();
  if (!measure) ctx.notes.push("memory: /usr/bin/time missing, peak RSS not measured");
  const rss: number[] = [];
  const rates: number[] = [];
  let last = "";
  for (let i = 0; i < sizes.memoryRuns; i++) {
    last = ctx.lakehouse();
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
}

/**
 * consume vs the columnar and row-wise Python peers (and optionally Spark) on the clean and
 * fleet workloads. `onCleanTopic` hears of the clean topic, which the rejects scenario reuses.
 */
export async function peersScenario(
  ctx: ScenarioContext,
  onCleanTopic: (topic: string) => void,
): Promise<unknown> {
  const { sizes, env } = ctx;
  return await benchPeers({
    env,
    messages: sizes.peersMessages,
    runs: sizes.runs,
    freshDir: ctx.lakehouse,
    topic: ctx.topic,
    note: (l) => ctx.notes.push(l),
    spark: ctx.peers?.includes("spark"),
    onTopic: (w, t) => w === "clean" && onCleanTopic(t),
  });
}

/** A mostly-rejected topic (future timestamps) drained beside the clean one, alternating. */
export async function rejectsScenario(
  ctx: ScenarioContext,
  cleanTopic: string | null,
): Promise<unknown> {
  const { sizes, env } = ctx;
  return await benchRejects(env, {
    messages: sizes.peersMessages,
    runs: sizes.runs,
    topic: ctx.topic,
    freshDir: ctx.lakehouse,
    cleanTopic,
  });
}

/** Produce→webhook latency of alarms under background load (bench/alarm_latency.ts). */
export async function alarmLatencyScenario(ctx: ScenarioContext): Promise<unknown> {
  const { sizes, env } = ctx;
  return await alarmLatency({
    brokers: env.brokers,
    rate: sizes.alarmRate,
    seconds: sizes.alarmSeconds,
    episodes: sizes.alarmEpisodes,
    topic: ctx.topic("alarm-latency"),
    deno: env.deno,
    log: ctx.log,
  });
}

/** Steady state of consume, gold --watch and the dashboard at fleet scale (bench/soak.ts). */
export async function soakScenario(ctx: ScenarioContext): Promise<unknown> {
  const { sizes, env } = ctx;
  return await soak({
    brokers: env.brokers,
    topic: ctx.topic("soak"),
    lakehouse: ctx.lakehouse(),
    minutes: sizes.soakMinutes,
    rate: sizes.soakRate,
    deno: env.deno,
    log: ctx.log,
  });
}
