/**
 * One simulation produced by N Web Workers, each with its own kafkajs producer (`--workers N`).
 *
 * Why: kafkajs encodes every record in JavaScript on the thread that sends it, so one producer
 * tops out around 150k msgs/s on this machine however large its batches. Each worker runs the
 * same seeded simulator (cheap: millions of messages/s) and sends only the messages whose key it
 * owns ({@link workerOfKey}). Hence:
 * - the messages sent overall are exactly the single-producer stream (same seed, same messages);
 * - a key always goes through the same worker, in stream order, so each device's readings are
 *   as ordered in their partition as with one producer (exactly the stream's order with
 *   `maxInFlight: 1`; kafkajs may reorder requests in flight together); only the interleaving
 *   of different keys inside a partition differs;
 * - key → partition is unchanged (every worker uses kafkajs' default partitioner).
 * A rate is split evenly over the workers; truth episodes come from worker 0 (every worker
 * simulates the whole stream, so any one of them sees every episode).
 *
 * @module
 */
import type { KafkaClientOptions } from "../kafka/client.ts";
import type { ProduceOptions, ProduceProgress, ProduceResult } from "../kafka/producer.ts";
import type { Episode } from "./faults.ts";
import type { SimStats, SimulatorOptions } from "./simulator.ts";

/** Producer settings a worker can receive (plain data: no callbacks, no signal). */
export type WorkerProduceOptions = Pick<
  ProduceOptions,
  "acks" | "compression" | "batchSize" | "maxInFlight" | "retryInitialMs" | "retryMaxMs"
>;

/** Main → worker: what to produce. `sim.start` must be set, so all workers agree on it. */
export interface WorkerStart {
  type: "start";
  worker: number;
  workers: number;
  sim: SimulatorOptions & { start: number };
  client: KafkaClientOptions;
  topic: string;
  produce: WorkerProduceOptions;
  /** This worker's share of the rate (0 = burst). */
  rate: number;
  progressIntervalMs: number;
  /** Stream ended episodes back (worker 0 only). */
  truth: boolean;
}

/** Main → worker: stop pulling new messages; in-flight batches finish. */
export interface WorkerAbort {
  type: "abort";
}

/** Worker → main messages. */
export type WorkerReport =
  | { type: "ready"; worker: number }
  | { type: "progress"; worker: number; progress: ProduceProgress }
  | { type: "episodes"; episodes: Episode[] }
  | {
    type: "done";
    worker: number;
    result: ProduceResult;
    stats: SimStats;
    /** Episodes still open at the end, closed at the last tick (worker 0 only). */
    finish: Episode[];
  }
  | { type: "error"; worker: number; message: string };

/**
 * The worker (0 ≤ w < workers) that sends a message: FNV-1a of the key, so a key always maps to
 * the same worker; keyless messages go round-robin by their index in the stream.
 *
 * @example
 * ```ts
 * import { workerOfKey } from "./workers.ts";
 * workerOfKey("A-F0-temperature-01", 0, 2) === workerOfKey("A-F0-temperature-01", 99, 2); // true
 * ```
 */
export function workerOfKey(key: string | null, index: number, workers: number): number {
  if (workers <= 1) return 0;
  if (key === null) return index % workers;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % workers;
}

/** What the workers achieved together. */
export interface WorkersResult {
  result: ProduceResult;
  /** The whole stream's statistics (from worker 0, which simulated all of it). */
  stats: SimStats;
  /** Episodes still open at the end (worker 0). */
  finish: Episode[];
}

/** Options of {@link produceWithWorkers}. */
export interface WorkersOptions {
  workers: number;
  sim: SimulatorOptions & { start: number };
  client: KafkaClientOptions;
  topic: string;
  produce: WorkerProduceOptions;
  /** Total rate over all workers (0 = burst). */
  rate: number;
  signal?: AbortSignal;
  progressIntervalMs?: number;
  onProgress?: (p: ProduceProgress) => void;
  /** Ended episodes, as worker 0 reports them. */
  onEpisodes?: (episodes: Episode[]) => void;
}

/** Raised when a worker fails; carries the worker's message. */
export class ProduceWorkerError extends Error {
  constructor(readonly worker: number, message: string) {
    super(`produce worker ${worker}: ${message}`);
    this.name = "ProduceWorkerError";
  }
}

/**
 * Runs `workers` Web Workers (worker.ts) and waits for all of them. Elapsed
 * time runs from the moment every worker has loaded until the last one is done, so module
 * loading is not counted (connecting is, as in the single-producer path).
 *
 * @example
 * ```ts ignore
 * const r = await produceWithWorkers({
 *   workers: 2, sim: { seed: 1, start: Date.UTC(2025, 11, 15), count: 1e6 },
 *   client: { brokers: ["127.0.0.1:9092"], clientId: "produce" }, topic: "sensor_data",
 *   produce: { acks: 1 }, rate: 0,
 * });
 * ```
 */
export async function produceWithWorkers(opts: WorkersOptions): Promise<WorkersResult> {
  const n = Math.max(1, Math.floor(opts.workers));
  const url = new URL("./worker.ts", import.meta.url);
  const workers: Worker[] = [];
  const progress: (ProduceProgress | null)[] = new Array(n).fill(null);
  const done: (Extract<WorkerReport, { type: "done" }> | null)[] = new Array(n).fill(null);
  let readyCount = 0;
  let startedAt = 0;
  let failure: ProduceWorkerError | null = null;
  let settle!: () => void;
  let allReady!: () => void;
  const finished = new Promise<void>((resolve) => (settle = resolve));
  const ready = new Promise<void>((resolve) => (allReady = resolve));
  const checkFinished = () => {
    if (failure || done.every((d) => d !== null)) settle();
  };
  const onAbort = () => {
    for (const w of workers) w.postMessage({ type: "abort" } satisfies WorkerAbort);
  };
  for (let i = 0; i < n; i++) {
    const w = new Worker(url, { type: "module", name: `produce-${i}` });
    w.onmessage = (ev: MessageEvent<WorkerReport>) => {
      const m = ev.data;
      if (m.type === "ready") {
        if (++readyCount === n) allReady();
      } else if (m.type === "progress") progress[m.worker] = m.progress;
      else if (m.type === "episodes") opts.onEpisodes?.(m.episodes);
      else if (m.type === "done") {
        done[m.worker] = m;
        checkFinished();
      } else if (m.type === "error") {
        failure ??= new ProduceWorkerError(m.worker, m.message);
        onAbort();
        checkFinished();
      }
    };
    w.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      failure ??= new ProduceWorkerError(i, ev.message);
      settle();
      allReady();
    };
    workers.push(w);
  }
  let lastSent = 0;
  let lastAt = 0;
  const report = () => {
    const now = performance.now();
    const ps = progress.filter((p): p is ProduceProgress => p !== null);
    const sent = ps.reduce((s, p) => s + p.sent, 0);
    opts.onProgress?.({
      sent,
      errors: ps.reduce((s, p) => s + p.errors, 0),
      rate: Math.round(((sent - lastSent) * 1000) / Math.max(1, now - lastAt)),
      elapsedMs: now - startedAt,
      retrying: ps.find((p) => p.retrying)?.retrying ?? null,
    });
    lastSent = sent;
    lastAt = now;
  };
  let timer: ReturnType<typeof setInterval> | undefined;
  try {
    await ready;
    if (failure) throw failure;
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    startedAt = lastAt = performance.now();
    const intervalMs = opts.progressIntervalMs ?? 2000;
    for (let i = 0; i < n; i++) {
      workers[i].postMessage(
        {
          type: "start",
          worker: i,
          workers: n,
          sim: opts.sim,
          client: opts.client,
          topic: opts.topic,
          produce: opts.produce,
          rate: opts.rate > 0 ? opts.rate / n : 0,
          // Workers report a bit more often than we print, so each line is current.
          progressIntervalMs: Math.max(100, Math.floor(intervalMs / 2)),
          truth: i === 0,
        } satisfies WorkerStart,
      );
    }
    if (opts.onProgress) timer = setInterval(report, intervalMs);
    await finished;
    if (failure) throw failure;
  } finally {
    clearInterval(timer);
    opts.signal?.removeEventListener("abort", onAbort);
    for (const w of workers) w.terminate();
  }
  const elapsedMs = performance.now() - startedAt;
  const results = done.map((d) => d!.result);
  const sum = (k: "sent" | "bytes" | "batches" | "errors" | "unsent") =>
    results.reduce((s, r) => s + r[k], 0);
  for (let i = 0; i < n; i++) {
    progress[i] = {
      sent: results[i].sent,
      errors: results[i].errors,
      rate: 0,
      elapsedMs: 0,
      retrying: null,
    };
  }
  if (opts.onProgress) report();
  const sent = sum("sent");
  return {
    result: {
      sent,
      bytes: sum("bytes"),
      batches: sum("batches"),
      errors: sum("errors"),
      unsent: sum("unsent"),
      elapsedMs,
      msgsPerSec: Math.round((sent * 1000) / Math.max(1, elapsedMs)),
      aborted: results.some((r) => r.aborted),
    },
    stats: done[0]!.stats,
    finish: done[0]!.finish,
  };
}
