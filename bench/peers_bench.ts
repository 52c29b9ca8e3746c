/**
 * The peers scenario: `consume --until-caught-up` side by side with what a user would compare it
 * to, on one topic in one sitting, runs alternating (consume, peer, consume, peer…) so that load
 * from other work on the machine falls on both alike and the pairwise ratios stay meaningful.
 *
 * - The Python peer (bench/peers/python_peer.py): confluent-kafka + orjson + pyarrow +
 *   `deltalake.write_deltalake`, bronze and silver in 50,000-message batches. It runs from a venv
 *   under .cache/peers-venv, made with `python3 -m venv` and pip (bench/peers/requirements.txt)
 *   the first time; without python3 the peer is skipped with a note.
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
  benchBareConsumer,
  benchPipeline,
  type KafkaBenchEnv,
  runBenchChild,
} from "./kafka_bench.ts";
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

/** The Python peer over `topic`, writing its two tables under `out` (a fresh directory). */
export function benchPythonPeer(
  env: KafkaBenchEnv,
  topic: string,
  out: string,
): Promise<PeerScriptRun> {
  return benchPeerScript("python peer", VENV_PYTHON, "bench/peers/python_peer.py", env, topic, out);
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

function peerFigures(runs: PeerRun[]): PeerFigures {
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

/** Ratios a/b pair by pair of throughput, CPU and RSS (null where either side was unmeasured). */
function peerRatios(a: PeerRun[], b: PeerRun[]) {
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

/** What the peers scenario returns (JSON of latest.json). */
export interface PeersResult {
  messages: number;
  runs: number;
  consume: PeerFigures;
  python: PeerFigures | { skipped: string };
  /** consume / python, pair by pair. */
  consumeOverPython: ReturnType<typeof peerRatios> | null;
  /** Only with `--peers spark`. */
  spark?: PeerFigures | { skipped: string };
  consumeOverSpark?: ReturnType<typeof peerRatios> | null;
  clients: { kafkajs: PeerFigures };
}

/**
 * Runs the scenario over `topic` (already produced, `messages` long): `runs` alternating pairs
 * of consume (fresh lakehouse and group each) and the Python peer (fresh output dir), with the
 * Spark peer as a third when `opts.spark`, then `runs` bare kafkajs reads.
 */
export async function benchPeers(
  env: KafkaBenchEnv,
  topic: string,
  messages: number,
  runs: number,
  freshDir: () => string,
  opts: { spark?: boolean } = {},
): Promise<PeersResult> {
  const log = env.log;
  const skipped = await ensurePythonPeer(log);
  if (skipped) log(`  Python peer skipped: ${skipped}`);
  let sparkPython: string | null = null;
  let sparkSkipped: string | null = null;
  if (opts.spark) {
    const v = await ensureVenv(
      SPARK_VENV,
      "bench/peers/spark-requirements.txt",
      (l) => log(`  the Spark peer: ${l}`),
    );
    if ("reason" in v) sparkSkipped = v.reason;
    else sparkPython = v.python;
    if (sparkSkipped) log(`  Spark peer skipped: ${sparkSkipped}`);
  }
  const spark: PeerRun[] = [];
  const runSpark = (python: string) =>
    benchPeerScript("spark peer", python, SPARK_SCRIPT, env, topic, freshDir());
  const jarsResolved = await Deno.stat(join(ROOT, ".cache/ivy/jars")).then(() => true, () => false);
  if (sparkPython && !jarsResolved) {
    // Its first run resolves the Kafka source's jars from Maven Central: not a timed one.
    const w = await runSpark(sparkPython);
    log(`  spark warm-up (untimed, resolves its jars): ${w.msgsPerSec} msg/s`);
  }
  const consume: PeerRun[] = [];
  const python: PeerRun[] = [];
  const mib = (b: number | null) => (b === null ? "?" : Math.round(b / 1048576));
  const line = (name: string, r: PeerRun) =>
    `${name} ${r.msgsPerSec} msg/s, ${r.cpuSeconds ?? "?"} CPU s, ${mib(r.peakRssBytes)} MiB`;
  for (let i = 0; i < runs; i++) {
    const c = await benchPipeline(env, topic, freshDir(), { measureRss: true });
    consume.push(c);
    let msg = `  run ${i + 1}: ${line("consume", c)}`;
    if (!skipped) {
      const p = await benchPythonPeer(env, topic, freshDir());
      python.push(p);
      msg += `; ${line("python", p)} (bronze ${p.rows.bronze}, silver ${p.rows.silver})`;
    }
    if (sparkPython) {
      const p = await runSpark(sparkPython);
      spark.push(p);
      msg += `; ${line("spark", p)} (bronze ${p.rows.bronze}, silver ${p.rows.silver})`;
    }
    log(msg);
  }
  const kafkajs: BareRun[] = [];
  for (let i = 0; i < runs; i++) {
    const k = await benchBareConsumer(env, topic, { measure: true });
    kafkajs.push(k);
    log(`  bare run ${i + 1}: ${line("kafkajs", k)}`);
  }
  return {
    messages,
    runs,
    consume: peerFigures(consume),
    python: skipped ? { skipped } : peerFigures(python),
    consumeOverPython: skipped ? null : peerRatios(consume, python),
    ...(opts.spark
      ? {
        spark: sparkSkipped ? { skipped: sparkSkipped } : peerFigures(spark),
        consumeOverSpark: sparkSkipped ? null : peerRatios(consume, spark),
      }
      : {}),
    clients: { kafkajs: peerFigures(kafkajs) },
  };
}
