/**
 * One simulation run end to end: simulator → Kafka (or an NDJSON file), with the truth file
 * streamed alongside. `scripts/produce.ts` is the thin CLI over {@link runSimulation}.
 *
 * The truth file gets each episode once it has ended (so a long run can be scored while it
 * goes) and the still-open ones at the end, cut at the last simulated tick.
 *
 * @module
 */
import type { Kafka } from "kafkajs";
import type { KafkaClientOptions } from "../kafka/client.ts";
import {
  ensureTopic,
  produce,
  type ProduceOptions,
  type ProduceProgress,
  type ProduceResult,
  TokenBucket,
} from "../kafka/producer.ts";
import {
  createSimulator,
  type SimMessage,
  type SimStats,
  type SimulatorOptions,
} from "./simulator.ts";
import type { Episode } from "./faults.ts";
import { produceWithWorkers } from "./workers.ts";

/** Where the messages go. */
export type SimSink =
  | {
    kind: "kafka";
    kafka: Kafka;
    topic: string;
    /** Partitions to create the topic with if missing. */
    partitions: number;
    replicationFactor?: number;
    produce?: Omit<ProduceOptions<SimMessage>, "signal" | "onProgress" | "onBatch" | "rate">;
    /** How `kafka` was built, as plain data: each producer worker builds its own client. */
    client?: KafkaClientOptions;
  }
  | { kind: "file"; path: string };

/** Options of {@link runSimulation}. */
export interface SimRunConfig {
  sim: SimulatorOptions;
  sink: SimSink;
  /** Messages per second; 0 = as fast as possible. */
  rate: number;
  /**
   * Producer workers (Kafka sink only; default 1 = this thread). N > 1 runs N Web Workers with
   * their own kafkajs producers over disjoint key slices of the same stream (workers.ts);
   * needs `sink.client`.
   */
  workers?: number;
  /** NDJSON file of injected anomaly episodes. */
  truthPath?: string;
  signal?: AbortSignal;
  /** Receives a human progress line every `progressIntervalMs` (default 2000). */
  onProgress?: (line: string) => void;
  progressIntervalMs?: number;
}

/** Final summary, printed as JSON on stdout by the CLI. */
export interface SimRunSummary {
  sink: "kafka" | "file";
  target: string;
  partitions?: number;
  topicCreated?: boolean;
  /** Messages delivered (acknowledged by Kafka, or written to the file). */
  sent: number;
  /** UTF-8 bytes of keys and values delivered. */
  bytes: number;
  /** Failed send attempts, all retried. */
  errors: number;
  unsent: number;
  elapsedSeconds: number;
  msgsPerSec: number;
  /** Payload megabytes (10^6 bytes) per second. */
  mbPerSec: number;
  /** Producer threads used (1 unless `workers` > 1). */
  workers: number;
  aborted: boolean;
  /** What the simulator emitted: the exact expectations for silver/quarantine/dedup. */
  simulated: SimStats & { start: string; end: string | null };
  truth?: { path: string; episodes: number };
}

const enc = new TextEncoder();

/** Appends episodes to the truth file as NDJSON. */
class TruthWriter {
  count = 0;
  private constructor(private file: Deno.FsFile) {}
  static async open(path: string): Promise<TruthWriter> {
    return new TruthWriter(
      await Deno.open(path, { write: true, create: true, truncate: true }),
    );
  }
  async write(episodes: Episode[]): Promise<void> {
    if (episodes.length === 0) return;
    this.count += episodes.length;
    await writeAll(this.file, enc.encode(episodes.map((e) => JSON.stringify(e) + "\n").join("")));
  }
  close(): void {
    this.file.close();
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

function iso(t: number | null): string | null {
  return t === null ? null : new Date(t).toISOString();
}

/**
 * Runs the simulator into the sink until count/duration is reached or `signal` aborts.
 *
 * @example
 * ```ts ignore
 * const s = await runSimulation({
 *   sim: { seed: 1, count: 1000 },
 *   sink: { kind: "file", path: "sensor_data/sample.ndjson" },
 *   rate: 0,
 * });
 * ```
 */
export async function runSimulation(cfg: SimRunConfig): Promise<SimRunSummary> {
  const sim = createSimulator(cfg.sim);
  const truth = cfg.truthPath ? await TruthWriter.open(cfg.truthPath) : null;
  let truthWrite: Promise<void> = Promise.resolve();
  const flushTruth = () => {
    if (!truth) return;
    const eps = sim.takeEpisodes();
    if (eps.length > 0) truthWrite = truthWrite.then(() => truth.write(eps));
  };
  // With producer workers the messages are simulated in the workers: their figures win.
  let workerStats: SimStats | null = null;
  let workerFinish: Episode[] | null = null;
  const eventClock = () => {
    const last = (workerStats ?? sim.stats()).lastEventTime;
    return last === null ? "-" : new Date(last).toISOString().slice(0, 19) + "Z";
  };
  try {
    let result: ProduceResult;
    let summaryExtra: Partial<SimRunSummary>;
    if (cfg.sink.kind === "kafka") {
      const { kafka, topic, partitions } = cfg.sink;
      const admin = kafka.admin();
      let topicInfo;
      await admin.connect();
      try {
        topicInfo = await ensureTopic(admin, topic, partitions, cfg.sink.replicationFactor ?? 1);
      } finally {
        await admin.disconnect().catch(() => {});
      }
      const workers = Math.max(1, Math.floor(cfg.workers ?? 1));
      const onProgress = cfg.onProgress
        ? (p: ProduceProgress) => {
          const state = p.retrying
            ? `, broker unreachable, retrying (attempt ${p.retrying.attempt}): ${
              p.retrying.error.slice(0, 80)
            }`
            : "";
          cfg.onProgress!(
            `produce: sent ${p.sent} (${p.rate} msg/s), errors ${p.errors}, ` +
              `event time ${eventClock()}${state}`,
          );
        }
        : undefined;
      if (workers > 1) {
        if (!cfg.sink.client) throw new TypeError("runSimulation: workers > 1 needs sink.client");
        const { onSend: _onSend, producerConfig: _pc, ...plain } = cfg.sink.produce ?? {};
        const w = await produceWithWorkers({
          workers,
          sim: { ...cfg.sim, start: sim.start },
          client: cfg.sink.client,
          topic,
          produce: plain,
          rate: cfg.rate,
          signal: cfg.signal,
          progressIntervalMs: cfg.progressIntervalMs,
          onProgress,
          onEpisodes: (eps) => {
            if (truth) truthWrite = truthWrite.then(() => truth.write(eps));
          },
        });
        result = w.result;
        workerStats = w.stats;
        workerFinish = w.finish;
      } else {
        result = await produce(kafka, topic, sim, {
          ...cfg.sink.produce,
          rate: cfg.rate,
          signal: cfg.signal,
          progressIntervalMs: cfg.progressIntervalMs,
          onBatch: flushTruth,
          onProgress,
        });
      }
      summaryExtra = {
        sink: "kafka",
        target: topic,
        partitions: topicInfo.partitions,
        topicCreated: topicInfo.created,
      };
    } else {
      result = await writeFile(cfg, sim, flushTruth, eventClock);
      summaryExtra = { sink: "file", target: cfg.sink.path };
    }
    if (!workerStats) flushTruth();
    await truthWrite;
    if (truth) await truth.write(workerFinish ?? sim.finish());
    const stats = workerStats ?? sim.stats();
    return {
      ...summaryExtra,
      sent: result.sent,
      bytes: result.bytes,
      errors: result.errors,
      unsent: result.unsent,
      elapsedSeconds: Math.round(result.elapsedMs) / 1000,
      msgsPerSec: result.msgsPerSec,
      mbPerSec: Math.round(result.bytes / Math.max(1, result.elapsedMs) / 10) / 100,
      workers: workerStats ? Math.max(1, Math.floor(cfg.workers ?? 1)) : 1,
      aborted: result.aborted,
      simulated: { ...stats, start: iso(sim.start)!, end: iso(stats.lastEventTime) },
      ...(truth ? { truth: { path: cfg.truthPath!, episodes: truth.count } } : {}),
    } as SimRunSummary;
  } finally {
    await truthWrite.catch(() => {});
    truth?.close();
  }
}

/** NDJSON output: one message value per line, paced only when a rate is given. */
async function writeFile(
  cfg: SimRunConfig,
  sim: ReturnType<typeof createSimulator>,
  afterBatch: () => void,
  eventClock: () => string,
): Promise<ProduceResult> {
  const path = (cfg.sink as { path: string }).path;
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const started = performance.now();
  const bucket = cfg.rate > 0 ? new TokenBucket(cfg.rate) : null;
  const batchSize = cfg.rate > 0 ? Math.max(1, Math.min(5000, Math.ceil(cfg.rate / 10))) : 5000;
  let sent = 0, bytes = 0;
  let lastSent = 0, lastAt = started;
  const timer = cfg.onProgress
    ? setInterval(() => {
      const now = performance.now();
      const rate = Math.round(((sent - lastSent) * 1000) / Math.max(1, now - lastAt));
      lastSent = sent;
      lastAt = now;
      cfg.onProgress!(`produce: wrote ${sent} (${rate} msg/s), event time ${eventClock()}`);
    }, cfg.progressIntervalMs ?? 2000)
    : undefined;
  try {
    while (!cfg.signal?.aborted) {
      const batch = sim.nextBatch(batchSize);
      if (batch.length === 0) break;
      if (bucket) await bucket.take(batch.length, cfg.signal);
      // Values never contain a raw newline (JSON escapes it; corruptions keep it out).
      const chunk = enc.encode(batch.map((m) => m.value + "\n").join(""));
      await writeAll(file, chunk);
      sent += batch.length;
      bytes += chunk.byteLength - batch.length;
      afterBatch();
    }
  } finally {
    clearInterval(timer);
    file.close();
  }
  const elapsedMs = performance.now() - started;
  return {
    sent,
    bytes,
    batches: 0,
    errors: 0,
    unsent: 0,
    elapsedMs,
    msgsPerSec: Math.round((sent * 1000) / Math.max(1, elapsedMs)),
    aborted: cfg.signal?.aborted ?? false,
  };
}

/**
 * Event time that starts now and runs faster than the clock (a speedup, a burst) soon lies in
 * the future, and ingestion quarantines readings more than its tolerance (default 5 min) ahead
 * as `future_timestamp`, so such a run ends up mostly in quarantine. Say so before it starts,
 * unless the run is too short to get there.
 */
export function aheadOfClockWarning(o: {
  start: number | undefined;
  speedup: number;
  rate: number;
  count: number | undefined;
  durationSeconds: number | undefined;
  eventSecondsPerMessage: number;
}): string | null {
  if (o.start !== undefined || (o.speedup <= 1 && o.rate > 0)) return null;
  const span = Math.min(
    o.durationSeconds ?? Infinity,
    o.count === undefined ? Infinity : o.count * o.eventSecondsPerMessage,
  );
  if (span <= 300) return null;
  const pace = o.rate === 0 ? "as fast as it can be sent" : `${o.speedup}x faster than the clock`;
  return `produce: warning: event time starts now and runs ${pace}; consume and ingest-files ` +
    "quarantine readings more than 5 min ahead of their clock (future_timestamp). To simulate " +
    `faster than real time, start in the past: --start "$(date -u -d '-1 day' +%FT%TZ)"`;
}
