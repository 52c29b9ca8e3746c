/**
 * The peers scenario: `consume --until-caught-up` side by side with what a user would compare it
 * to, on two topics (workloads: clean and fleet) in one sitting, runs alternating (consume,
 * columnar, row-wise, consume, …) so that load from other work on the machine falls on all alike
 * and the pairwise ratios stay meaningful.
 *
 * - The Python peers, named for their idiom, both confluent-kafka + orjson + pyarrow +
 *   `deltalake.write_deltalake`, bronze and silver in 50,000-message batches:
 *   bench/peers/python_columnar_peer.py (one list a column, vectorised conversions) and
 *   bench/peers/python_rowwise_peer.py (one dict a row, `Table.from_pylist`). They run from a
 *   venv under .cache/peers-venv, made with `python3 -m venv` and pip
 *   (bench/peers/requirements.txt) the first time; without python3 they are skipped with a note.
 * - With `--peers spark`, the Spark peer on the fleet topic.
 * - The client's bare fetch ceiling: kafkajs reading the same topic without writing
 *   (bench/bare_consumer.ts). Until 2026-12-07 `@platformatic/kafka` ran beside it; its figures
 *   stay in bench/results/peers-2026-12-0*.md.
 *
 * Every process runs under /usr/bin/time for its peak RSS and CPU (user + system).
 *
 * @module
 */
import { join } from "node:path";
import { ensureVenv } from "../src/python_venv.ts";
import { ROOT } from "../src/tasks.ts";
import {
  type BareRun,
  BENCH_SITE,
  benchBareConsumer,
  benchPipeline,
  benchProduce,
  type KafkaBenchEnv,
  runBenchChild,
} from "./kafka_bench.ts";
import { PRODUCERS } from "./sizes.ts";
import { type Figure, figure, pairRatios } from "./stats.ts";

/** The venv's interpreter, relative to ROOT as the bench task's --allow-run names it. */
const VENV_PYTHON = ".cache/peers-venv/bin/python";

/**
 * Makes sure the Python peer's venv exists with the pinned packages; returns why not when it
 * cannot (no python3, no venv module, no network to PyPI).
 */
export async function ensurePythonPeer(log: (l: string) => void): Promise<string | null> {
  const r = await ensureVenv(
    ".cache/peers-venv",
    "bench/peers/requirements.txt",
    (l) => log(`  the Python peer: ${l}`),
  );
  return "reason" in r ? r.reason : null;
}

/** One run of a peer: throughput, CPU and peak RSS of its process. */
export interface PeerRun {
  records: number;
  seconds: number;
  msgsPerSec: number;
  cpuSeconds: number | null;
  peakRssBytes: number | null;
}

/** A peer script's run: its JSON summary line and its process's time figures. */
export type PeerScriptRun = PeerRun & { rows: { bronze: number; silver: number } };

/** A peer script (`python` from its venv) over `topic`, writing its tables under `out`. */
export async function benchPeerScript(
  name: string,
  python: string,
  script: string,
  env: KafkaBenchEnv,
  topic: string,
  out: string,
): Promise<PeerScriptRun> {
  const { summary, time } = await runBenchChild(name, [python, script, env.brokers, topic, out]);
  const s = summary as {
    records: number;
    rows: { bronze: number; silver: number };
    seconds: number;
    /** A JVM the script started (Spark): its own figures, added to the script's. */
    jvm?: { peakRssBytes: number; cpuSeconds: number };
  };
  const add = (a: number | null, b: number | undefined) =>
    a === null || b === undefined ? a : Number((a + b).toFixed(2));
  return {
    records: s.records,
    rows: s.rows,
    seconds: s.seconds,
    msgsPerSec: Math.round(s.records / s.seconds),
    // Two processes: CPU adds up; peak RSS is the sum of their peaks (an upper bound).
    cpuSeconds: add(time.cpuSeconds, s.jvm?.cpuSeconds),
    peakRssBytes: add(time.peakRssBytes, s.jvm?.peakRssBytes),
  };
}

/** The Spark peer's venv (pyspark + delta-spark) and script. */
const SPARK_VENV = ".cache/spark-venv";
const SPARK_SCRIPT = "bench/peers/spark_peer.py";

/** Median/min/max of msg/s, CPU s, CPU µs a message and peak RSS over a peer's runs. */
export interface PeerFigures {
  msgsPerSec: Figure;
  cpuSeconds: Figure | null;
  cpuUsPerMessage: Figure | null;
  peakRssMiB: Figure | null;
}

/** The figures of a peer over its runs (CPU and RSS null unless every run measured them). */
export function peerFigures(runs: PeerRun[]): PeerFigures {
  const cpu = runs.map((r) => r.cpuSeconds).filter((x): x is number => x !== null);
  const rss = runs.map((r) => r.peakRssBytes).filter((x): x is number => x !== null);
  return {
    msgsPerSec: figure(runs.map((r) => r.msgsPerSec), "msg/s", 0),
    cpuSeconds: cpu.length === runs.length ? figure(cpu, "s") : null,
    cpuUsPerMessage: cpu.length === runs.length
      ? figure(runs.map((r) => (r.cpuSeconds! / r.records) * 1e6), "µs", 1)
      : null,
    peakRssMiB: rss.length === runs.length ? figure(rss.map((b) => b / 1048576), "MiB", 0) : null,
  };
}

/** Pairwise ratios of two peers' throughput, CPU and peak RSS. */
export interface PeerRatios {
  msgsPerSec: Figure;
  cpuSeconds: Figure | null;
  peakRss: Figure | null;
}

/** Ratios a/b pair by pair of throughput, CPU and RSS (null where either side was unmeasured). */
export function peerRatios(a: PeerRun[], b: PeerRun[]): PeerRatios {
  const pick = (runs: PeerRun[], k: "cpuSeconds" | "peakRssBytes") =>
    runs.every((r) => r[k] !== null) ? runs.map((r) => r[k]!) : null;
  const ratio = (k: "cpuSeconds" | "peakRssBytes") => {
    const x = pick(a, k), y = pick(b, k);
    return x && y ? figure(pairRatios(x, y), "x", 2) : null;
  };
  return {
    msgsPerSec: figure(pairRatios(a.map((r) => r.msgsPerSec), b.map((r) => r.msgsPerSec)), "x", 2),
    cpuSeconds: ratio("cpuSeconds"),
    peakRss: ratio("peakRssBytes"),
  };
}

/** A topic of the peers scenario: what the simulator puts in it. */
export interface Workload {
  name: "clean" | "fleet";
  label: string;
  faults: string;
  /** The simulator's site and start options (`deno task produce`). */
  site: readonly string[];
}

/** The simulator's default site, 36 devices (3 buildings × 3 floors × 4 types), in the past. */
export const CLEAN_SITE = [
  "--buildings",
  "3",
  "--floors",
  "3",
  "--devices-per-floor",
  "1",
  "--start",
  "2025-12-15T00:00:00Z",
];

/**
 * The two topics, both stamped in the past (a future start would quarantine the readings as
 * future_timestamp): a clean one, where every message is a valid reading of few devices, and
 * the bench's own topic, a fleet with light faults (duplicates, late, wrong units, bad JSON…).
 */
export const WORKLOADS: readonly Workload[] = [
  { name: "clean", label: "clean: 36 devices, no faults", faults: "none", site: CLEAN_SITE },
  {
    name: "fleet",
    label: "fleet: 1,000 devices, --faults light",
    faults: "light",
    site: BENCH_SITE,
  },
];

/** The Python peers, named for their idiom; both read and write the same (peer_common.py). */
const PYTHON_PEERS = {
  columnar: "bench/peers/python_columnar_peer.py",
  rowwise: "bench/peers/python_rowwise_peer.py",
} as const;

/** One workload's figures: consume and the two Python peers, alternating, and their ratios. */
export interface WorkloadResult {
  label: string;
  /** The produce options of its topic. */
  produced: string;
  consume: PeerFigures;
  columnar: PeerFigures | { skipped: string };
  rowwise: PeerFigures | { skipped: string };
  consumeOverColumnar: PeerRatios | null;
  consumeOverRowwise: PeerRatios | null;
  /** Silver rows of each in its first run: the two Python peers keep the same readings. */
  silverRows: { consume: number; columnar?: number; rowwise?: number };
}

/** What the peers scenario returns (JSON of latest.json). */
export interface PeersResult {
  messages: number;
  runs: number;
  workloads: Record<Workload["name"], WorkloadResult>;
  /** Only with `--peers spark`, on the fleet topic. */
  spark?: PeerFigures | { skipped: string };
  consumeOverSpark?: PeerRatios | null;
  /** The bare kafkajs fetch ceiling on the fleet topic. */
  clients: { kafkajs: PeerFigures };
}

/** What {@link benchPeers} needs from the harness. */
export interface PeersContext {
  env: KafkaBenchEnv;
  messages: number;
  runs: number;
  /** A fresh output directory (lakehouse or peer tables). */
  freshDir: () => string;
  /** A fresh topic of this bench run. */
  topic: (name: string) => string;
  /** A note for latest.md (a mismatch worth a reader's eye). */
  note: (line: string) => void;
  /** Adds the Spark peer on the fleet topic. */
  spark?: boolean;
  /** Hears of each workload's topic once produced (the rejects scenario reuses the clean one). */
  onTopic?: (workload: Workload["name"], topic: string) => void;
}

const mib = (b: number | null) => (b === null ? "?" : Math.round(b / 1048576));

/** One line of a run's log: msg/s, CPU s and peak RSS. */
export function runLine(name: string, r: PeerRun): string {
  return `${name} ${r.msgsPerSec} msg/s, ${r.cpuSeconds ?? "?"} CPU s, ${mib(r.peakRssBytes)} MiB`;
}

/** The Spark peer's interpreter when asked for and installable, else why not (or nothing). */
async function sparkPeer(
  ctx: PeersContext,
): Promise<{ python: string | null; skipped: string | null }> {
  if (!ctx.spark) return { python: null, skipped: null };
  const log = ctx.env.log;
  const v = await ensureVenv(
    SPARK_VENV,
    "bench/peers/spark-requirements.txt",
    (l) => log(`  the Spark peer: ${l}`),
  );
  if ("reason" in v) {
    log(`  Spark peer skipped: ${v.reason}`);
    return { python: null, skipped: v.reason };
  }
  return { python: v.python, skipped: null };
}

/**
 * One workload: its topic produced, then `runs` rounds of consume (fresh lakehouse and group),
 * the columnar peer and the row-wise peer (fresh output dirs), and `extra` (Spark) when given.
 */
async function benchWorkload(
  ctx: PeersContext,
  w: Workload,
  pythonSkipped: string | null,
  extra?: (topic: string) => Promise<string>,
): Promise<{ result: WorkloadResult; consume: PeerRun[]; topic: string }> {
  const { env } = ctx;
  const topic = ctx.topic(`peers-${w.name}`);
  await benchProduce(env, topic, ctx.messages, PRODUCERS.after, w.faults, w.site);
  ctx.onTopic?.(w.name, topic);
  env.log(`  ${w.label}: ${ctx.messages} messages produced`);
  const consume: PeerRun[] = [];
  const python: Record<keyof typeof PYTHON_PEERS, PeerScriptRun[]> = { columnar: [], rowwise: [] };
  let consumeSilver = 0;
  for (let i = 0; i < ctx.runs; i++) {
    const c = await benchPipeline(env, topic, ctx.freshDir(), { measureRss: true });
    consume.push(c);
    if (i === 0) consumeSilver = c.rows.silver;
    let msg = `  ${w.name} run ${i + 1}: ${runLine("consume", c)} (silver ${c.rows.silver})`;
    for (const [idiom, script] of pythonSkipped ? [] : Object.entries(PYTHON_PEERS)) {
      const p = await benchPeerScript(
        `${idiom} peer`,
        VENV_PYTHON,
        script,
        env,
        topic,
        ctx.freshDir(),
      );
      python[idiom as keyof typeof PYTHON_PEERS].push(p);
      msg += `; ${runLine(idiom, p)} (silver ${p.rows.silver})`;
    }
    if (extra) msg += await extra(topic);
    env.log(msg);
  }
  const skipped = pythonSkipped ? { skipped: pythonSkipped } : null;
  const silverRows = {
    consume: consumeSilver,
    columnar: python.columnar[0]?.rows.silver,
    rowwise: python.rowwise[0]?.rows.silver,
  };
  if (!skipped && silverRows.columnar !== silverRows.rowwise) {
    ctx.note(
      `peers (${w.name}): the columnar peer kept ${silverRows.columnar} silver rows, the row-wise one ${silverRows.rowwise}`,
    );
  }
  return {
    topic,
    consume,
    result: {
      label: w.label,
      produced: [`--faults ${w.faults}`, ...w.site].join(" "),
      consume: peerFigures(consume),
      columnar: skipped ?? peerFigures(python.columnar),
      rowwise: skipped ?? peerFigures(python.rowwise),
      consumeOverColumnar: skipped ? null : peerRatios(consume, python.columnar),
      consumeOverRowwise: skipped ? null : peerRatios(consume, python.rowwise),
      silverRows,
    },
  };
}

/**
 * The peers scenario: both workloads (clean, then fleet), each with `runs` alternating rounds of
 * consume, the columnar and the row-wise Python peer (and Spark on the fleet topic when asked),
 * then `runs` bare kafkajs reads of the fleet topic (the fetch ceiling).
 */
export async function benchPeers(ctx: PeersContext): Promise<PeersResult> {
  const { env } = ctx;
  const skipped = await ensurePythonPeer(env.log);
  if (skipped) env.log(`  Python peers skipped: ${skipped}`);
  const spark = await sparkPeer(ctx);
  const sparkRuns: PeerRun[] = [];
  const runSpark = (python: string, topic: string) =>
    benchPeerScript("spark peer", python, SPARK_SCRIPT, env, topic, ctx.freshDir());
  const jarsResolved = await Deno.stat(join(ROOT, ".cache/ivy/jars")).then(() => true, () => false);
  let sparkWarm = jarsResolved;
  const sparkExtra = spark.python
    ? async (topic: string) => {
      if (!sparkWarm) {
        // Its first run resolves the Kafka source's jars from Maven Central: not a timed one.
        const w = await runSpark(spark.python!, topic);
        env.log(`  spark warm-up (untimed, resolves its jars): ${w.msgsPerSec} msg/s`);
        sparkWarm = true;
      }
      const p = await runSpark(spark.python!, topic);
      sparkRuns.push(p);
      return `; ${runLine("spark", p)} (bronze ${p.rows.bronze}, silver ${p.rows.silver})`;
    }
    : undefined;
  const clean = await benchWorkload(ctx, WORKLOADS[0], skipped);
  const fleet = await benchWorkload(ctx, WORKLOADS[1], skipped, sparkExtra);
  const kafkajs: BareRun[] = [];
  for (let i = 0; i < ctx.runs; i++) {
    const k = await benchBareConsumer(env, fleet.topic, { measure: true });
    kafkajs.push(k);
    env.log(`  bare run ${i + 1}: ${runLine("kafkajs", k)}`);
  }
  return {
    messages: ctx.messages,
    runs: ctx.runs,
    workloads: { clean: clean.result, fleet: fleet.result },
    ...(ctx.spark
      ? {
        spark: spark.skipped ? { skipped: spark.skipped } : peerFigures(sparkRuns),
        consumeOverSpark: spark.skipped ? null : peerRatios(fleet.consume, sparkRuns),
      }
      : {}),
    clients: { kafkajs: peerFigures(kafkajs) },
  };
}
