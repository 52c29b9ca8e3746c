/**
 * Kafka-side benchmarks, each run as the user runs it: the `produce` and `consume` tasks are
 * spawned with deno.json's exact permissions (src/tasks.ts), the bare consumer as its own
 * process (bench/bare_consumer.ts), so every figure includes what a real process pays and the
 * harness's own work never competes inside the measured process.
 *
 * @module
 */
import { createKafka } from "../src/kafka/client.ts";
import { ROOT, spawnTask, type SpawnTaskOptions } from "../src/tasks.ts";
import type { BareConsumerResult } from "./bare_consumer.ts";

/** Options shared by the Kafka benchmarks. */
export interface KafkaBenchEnv {
  brokers: string;
  /** The deno executable to spawn (the harness's --allow-run names "deno"). */
  deno: string;
  log: (line: string) => void;
}

/** The simulated site of the Kafka benchmarks: 1000 devices, a fixed start, 1 reading/s each. */
export const BENCH_SITE = [
  "--buildings",
  "5",
  "--floors",
  "10",
  "--devices-per-floor",
  "5",
  "--start",
  "2025-12-15T00:00:00Z",
];

/** One producer configuration. */
export interface ProducerConfig {
  workers: number;
  acks: -1 | 1;
  batchSize: number;
}

/** What one `produce` run reported (its JSON summary). */
export interface ProduceRun {
  sent: number;
  bytes: number;
  elapsedSeconds: number;
  msgsPerSec: number;
  mbPerSec: number;
}

/** Raised when a spawned task fails; carries the tail of its stderr. */
export class BenchTaskError extends Error {
  constructor(task: string, code: number, stderr: string) {
    super(`${task} exited with ${code}:\n${stderr.trim().split("\n").slice(-15).join("\n")}`);
    this.name = "BenchTaskError";
  }
}

/** The last JSON line a benchmarked child printed on stdout (its summary). */
export function lastJsonLine<T>(stdout: string): T {
  const line = stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
  if (!line) throw new Error(`no JSON summary in output: ${stdout.slice(-500)}`);
  return JSON.parse(line) as T;
}

function spawnOpts(env: KafkaBenchEnv, extra: SpawnTaskOptions = {}): SpawnTaskOptions {
  return { deno: env.deno, ...extra };
}

/**
 * `deno task produce --rate 0` of `count` messages to `topic` (created with 3 partitions), from
 * `site` (the simulator's site and start options; default the bench site) with `faults`.
 */
export async function benchProduce(
  env: KafkaBenchEnv,
  topic: string,
  count: number,
  cfg: ProducerConfig,
  faults = "light",
  site: readonly string[] = BENCH_SITE,
): Promise<ProduceRun> {
  const args = [
    "--brokers",
    env.brokers,
    "--topic",
    topic,
    "--partitions",
    "3",
    "--rate",
    "0",
    "--count",
    String(count),
    "--faults",
    faults,
    "--workers",
    String(cfg.workers),
    `--acks=${cfg.acks}`,
    "--batch-size",
    String(cfg.batchSize),
    ...site,
  ];
  const out = await spawnTask("produce", args, {}, spawnOpts(env)).output();
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new BenchTaskError("produce", out.code, new TextDecoder().decode(out.stderr));
  }
  return lastJsonLine<ProduceRun>(stdout);
}

/** A bare consumer's figures, plus its peak RSS and CPU when measured. */
export type BareRun = BareConsumerResult & {
  peakRssBytes: number | null;
  cpuSeconds: number | null;
};

/** The bare kafkajs consumer over `topic`, in its own process. */
export async function benchBareConsumer(
  env: KafkaBenchEnv,
  topic: string,
  opts: { measure?: boolean } = {},
): Promise<BareRun> {
  const argv = [
    env.deno,
    "run",
    "--allow-net",
    "--allow-env=KAFKA*,DEBUG,NODE_*",
    "bench/bare_consumer.ts",
    env.brokers,
    topic,
  ];
  const { summary, time } = await runBenchChild("bare consumer", argv, opts.measure);
  return { ...(summary as BareConsumerResult), ...time };
}

/**
 * Runs `argv` from the repo root (under {@link TIME_WRAPPER} when `measure`), fails with its
 * stderr's tail when it fails, and returns its JSON summary line with the time figures.
 */
export async function runBenchChild(
  name: string,
  argv: string[],
  measure = true,
): Promise<{ summary: unknown; time: ReturnType<typeof parseTimeMark> }> {
  const [cmd, ...args] = measure ? [...TIME_WRAPPER, ...argv] : argv;
  const out = await new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new BenchTaskError(name, out.code, stderr);
  return {
    summary: lastJsonLine<unknown>(new TextDecoder().decode(out.stdout)),
    time: parseTimeMark(stderr),
  };
}

/** What `consume --until-caught-up` reported, plus its peak RSS when measured. */
export interface PipelineRun {
  records: number;
  rows: { bronze: number; silver: number; quarantine: number };
  seconds: number;
  msgsPerSec: number;
  /** Peak resident set of the consume process (VmHWM / ru_maxrss), bytes; null if unmeasured. */
  peakRssBytes: number | null;
  /** User + system CPU time of the consume process, s; null if unmeasured. */
  cpuSeconds: number | null;
}

const TIME = "/usr/bin/time";
const TIME_MARK = "BENCH_TIME=";

/** A wrapper that makes /usr/bin/time append the child's peak RSS and CPU to its stderr. */
export const TIME_WRAPPER: readonly string[] = [TIME, "-f", `${TIME_MARK}%M %U %S`];

/** What {@link TIME_WRAPPER} reported: peak RSS (bytes) and user + system CPU (s), or nulls. */
export function parseTimeMark(
  stderr: string,
): { peakRssBytes: number | null; cpuSeconds: number | null } {
  // Not anchored to a line start: a child's last output may end in a carriage return.
  const m = [...stderr.matchAll(/BENCH_TIME=(\d+) ([\d.]+) ([\d.]+)/g)].at(-1);
  if (!m) return { peakRssBytes: null, cpuSeconds: null };
  const [kb, user, sys] = m.slice(1).map(Number);
  return { peakRssBytes: kb * 1024, cpuSeconds: Number((user + sys).toFixed(2)) };
}

/** True when /usr/bin/time can report a child's peak RSS. */
export async function canMeasureRss(): Promise<boolean> {
  try {
    return (await Deno.stat(TIME)).isFile;
  } catch {
    return false;
  }
}

/**
 * `deno task consume --until-caught-up` of `topic` into `lakehouse` with a fresh group. With
 * `measureRss` the process runs under `/usr/bin/time`: the kernel's ru_maxrss of the consume
 * process itself (= its VmHWM at exit), not the harness's, and its user + system CPU time.
 */
export async function benchPipeline(
  env: KafkaBenchEnv,
  topic: string,
  lakehouse: string,
  opts: { measureRss?: boolean; extraArgs?: string[] } = {},
): Promise<PipelineRun> {
  const args = [
    "--brokers",
    env.brokers,
    "--topic",
    topic,
    "--lakehouse",
    lakehouse,
    "--group",
    `bench-${crypto.randomUUID()}`,
    "--until-caught-up",
    "--progress-interval",
    "0",
    ...(opts.extraArgs ?? []),
  ];
  const wrapper = opts.measureRss ? [...TIME_WRAPPER] : undefined;
  const out = await spawnTask("consume", args, {}, spawnOpts(env, { wrapper })).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new BenchTaskError("consume", out.code, stderr);
  const s = lastJsonLine<Omit<PipelineRun, "msgsPerSec" | "peakRssBytes" | "cpuSeconds">>(
    new TextDecoder().decode(out.stdout),
  );
  return {
    records: s.records,
    rows: s.rows,
    seconds: s.seconds,
    msgsPerSec: Math.round(s.records / s.seconds),
    ...parseTimeMark(stderr),
  };
}

/** Deletes the benchmark's own topics (never any other). */
export async function deleteTopics(brokers: string, topics: string[]): Promise<void> {
  if (topics.length === 0) return;
  const admin = createKafka({ brokers: brokers.split(","), clientId: "smarttech-bench" }).admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const ours = topics.filter((t) => existing.has(t));
    if (ours.length) await admin.deleteTopics({ topics: ours, timeout: 30_000 });
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
