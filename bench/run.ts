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
import { deleteTopics } from "./kafka_bench.ts";
import {
  alarmLatencyScenario,
  freshnessScenario,
  KAFKA_SCENARIOS,
  memoryScenario,
  peersScenario,
  pipelineScenario,
  producerScenario,
  rejectsScenario,
  soakScenario,
  warmUpBroker,
} from "./kafka_scenarios.ts";
import {
  backfillScenario,
  decodeScenario,
  deltaScenario,
  goldScenario,
  s3Scenario,
} from "./lakehouse_scenarios.ts";
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
import type { PeersResult } from "./peers_bench.ts";
import { renderMarkdown } from "./report.ts";
import { type BenchSizes, type ScenarioContext, SIZES } from "./sizes.ts";

export { type BenchSizes, PRODUCERS, SIZES } from "./sizes.ts";

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
  /** Overrides the mode's soak minutes. */
  soakMinutes?: number;
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
  ...KAFKA_SCENARIOS,
  "gold",
  "delta",
  "backfill",
  "decode",
  "s3",
] as const;

/** The broker of a run: the one that answers, else a throw-away one stopped by `stop`. */
interface BenchBroker {
  /** The broker's JVM pid when known (for its version), else null. */
  pid: number | null;
  stop: () => Promise<void>;
}

/** Uses the broker that answers at `brokers`, or starts a throw-away one. */
async function benchBroker(
  brokers: string,
  log: (line: string) => void,
  notes: string[],
): Promise<BenchBroker> {
  const broker: BrokerInUse = await useOrStartBroker(brokerList(brokers), {
    stateDir: join(ROOT, ".cache/kafka/bench"),
    graceMs: 15_000,
  });
  let pid: number | null;
  if (broker.started) {
    pid = broker.started.pid;
    log(`bench broker up at ${broker.started.brokers} (pid ${pid})`);
    notes.push("Kafka: a throw-away local broker was started for this run.");
  } else {
    pid = await Deno.readTextFile(join(ROOT, ".cache/kafka/run/broker.pid"))
      .then((s) => Number(s.trim()) || null, () => null);
    log(`using the Kafka broker that answers at ${brokers}`);
  }
  return {
    pid,
    stop: async () => {
      if (broker.started) {
        await broker.stop();
        log("bench broker stopped");
      }
    },
  };
}

/** The versions of what was measured; Kafka's only when a Kafka scenario runs. */
async function benchVersions(brokers: string, broker: BenchBroker | null): Promise<Versions> {
  const kafkaV = broker
    ? await kafkaVersion(
      createKafka({ brokers: brokerList(brokers), clientId: "bench" }),
      broker.pid,
    )
    : { version: "not measured", source: "no Kafka scenario selected" };
  return {
    ...denoVersions(),
    kafka: kafkaV.version,
    kafkaSource: kafkaV.source,
    duckdb: await duckdbVersion(),
    kafkajs: kafkajsVersion(),
  };
}

/** The mode's sizes with the options' overrides. */
function benchSizes(opts: BenchOptions): BenchSizes {
  const base = SIZES[opts.quick ? "quick" : "full"];
  return {
    ...base,
    peersMessages: opts.peersMessages ?? base.peersMessages,
    backfillSilverRows: opts.backfillSilverRows ?? base.backfillSilverRows,
    backfillRows: opts.backfillRows ?? base.backfillRows,
    soakMinutes: opts.soakMinutes ?? base.soakMinutes,
  };
}

/**
 * Runs the selected scenarios in order into `figures`, one after another; a failing scenario
 * leaves `{ error }` and the next one runs.
 */
async function runScenarios(
  ctx: ScenarioContext,
  want: (name: string) => boolean,
  figures: Record<string, unknown>,
  cleanupTopics: () => Promise<void>,
): Promise<void> {
  const { log, sizes } = ctx;
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
  if (sizes.warmupMessages > 0 && KAFKA_SCENARIOS.some(want)) await warmUpBroker(ctx);
  let pipelineTopic: string | null = null;
  await scenario("producer", () => producerScenario(ctx, (t) => pipelineTopic = t));
  await scenario("pipeline", () => pipelineScenario(ctx, pipelineTopic));
  await scenario("freshness", () => freshnessScenario(ctx));
  await scenario("memory", () => memoryScenario(ctx));
  let cleanTopic: string | null = null;
  await scenario("peers", () => peersScenario(ctx, (t) => cleanTopic = t));
  await scenario("rejects", () => rejectsScenario(ctx, cleanTopic));
  await scenario("alarm-latency", () => alarmLatencyScenario(ctx));
  await scenario("soak", () => soakScenario(ctx));
  const python = (figures.peers as PeersResult | undefined)?.workloads?.fleet.columnar;
  if (python && "skipped" in python) {
    ctx.notes.push(`peers: Python peers skipped (${python.skipped})`);
  }
  // Table health was measured on the memory scenario's lakehouse; report it on its own.
  const mem = figures.memory as { tableHealth?: unknown } | undefined;
  if (mem?.tableHealth) {
    figures.tableHealth = mem.tableHealth;
    delete mem.tableHealth;
  }
  // Broker work is over: free its disk before the lakehouse scenarios.
  await cleanupTopics().catch((e) => log(`deleting topics: ${e}`));
  await scenario("gold", () => goldScenario(ctx));
  await scenario("delta", () => deltaScenario(ctx));
  await scenario("backfill", () => backfillScenario(ctx));
  await scenario("s3", () => s3Scenario(ctx));
  await scenario("decode", () => decodeScenario(ctx));
}

/** Runs the benchmarks and writes `<outDir>/latest.json` and `latest.md`. */
export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const mode = opts.quick ? "quick" : "full";
  const sizes = benchSizes(opts);
  const started = new Date();
  const t0 = performance.now();
  const machine = machineInfo();
  const ticksAtStart = await cpuTicks();
  const notes: string[] = [];
  const figures: Record<string, unknown> = {};
  const want = (s: string) => !opts.only || opts.only.includes(s);
  const runId = crypto.randomUUID().slice(0, 8);
  const topics: string[] = [];
  const tmp = await Deno.makeTempDir({ prefix: "smarttech-bench-" });
  let lakehouses = 0;
  const ctx: ScenarioContext = {
    sizes,
    env: { brokers: opts.brokers, deno: opts.deno, log },
    log,
    notes,
    topic: (name) => {
      const t = `bench-${runId}-${name}`;
      topics.push(t);
      return t;
    },
    lakehouse: () => join(tmp, `lh${++lakehouses}`),
    peers: opts.peers,
  };

  await ensureDeltaExtension();
  const needKafka = KAFKA_SCENARIOS.some(want);
  const broker = needKafka ? await benchBroker(opts.brokers, log, notes) : null;
  const stopBroker = async () => await broker?.stop();
  const onSignal = () => {
    stopBroker().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const versions = await benchVersions(opts.brokers, broker);

  try {
    await runScenarios(ctx, want, figures, () => deleteTopics(opts.brokers, topics));
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
  await writeResults(opts.outDir, results);
  return results;
}

/** latest.json and latest.md in `outDir`. */
async function writeResults(outDir: string, results: BenchResults): Promise<void> {
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(join(outDir, "latest.json"), JSON.stringify(results, null, 2) + "\n");
  await Deno.writeTextFile(join(outDir, "latest.md"), renderMarkdown(results));
}
