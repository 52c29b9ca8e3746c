/**
 * Web Worker entry of `produce --workers N` (see workers.ts): simulates the whole seeded
 * stream and sends the slice of it whose keys this worker owns, through its own kafkajs
 * producer, reporting progress, truth episodes (worker 0) and the result to the main thread.
 *
 * @module
 */
import { createKafka } from "../kafka/client.ts";
import { produce } from "../kafka/producer.ts";
import { createSimulator, type SimMessage } from "./simulator.ts";
import { type WorkerAbort, workerOfKey, type WorkerReport, type WorkerStart } from "./workers.ts";

/** The worker side of postMessage/onmessage (Deno's worker global, typed narrowly). */
const port = globalThis as unknown as {
  postMessage(message: WorkerReport): void;
  onmessage: ((ev: MessageEvent<WorkerStart | WorkerAbort>) => void) | null;
};

const ac = new AbortController();
let started = false;

async function run(cfg: WorkerStart): Promise<void> {
  const sim = createSimulator(cfg.sim);
  let index = 0;
  // Every worker walks the whole stream (so all agree on it) and keeps its own keys only.
  const slice = {
    nextBatch(max: number): SimMessage[] {
      const out: SimMessage[] = [];
      while (out.length < max) {
        const m = sim.next();
        if (m === null) break;
        if (workerOfKey(m.key, index++, cfg.workers) === cfg.worker) out.push(m);
      }
      return out;
    },
  };
  const kafka = createKafka(cfg.client);
  const result = await produce(kafka, cfg.topic, slice, {
    ...cfg.produce,
    rate: cfg.rate,
    signal: ac.signal,
    progressIntervalMs: cfg.progressIntervalMs,
    onProgress: (progress) => port.postMessage({ type: "progress", worker: cfg.worker, progress }),
    onBatch: cfg.truth
      ? () => {
        const episodes = sim.takeEpisodes();
        if (episodes.length > 0) port.postMessage({ type: "episodes", episodes });
      }
      : undefined,
  });
  const episodes = cfg.truth ? sim.takeEpisodes() : [];
  if (episodes.length > 0) port.postMessage({ type: "episodes", episodes });
  port.postMessage({
    type: "done",
    worker: cfg.worker,
    result,
    stats: sim.stats(),
    finish: cfg.truth ? sim.finish() : [],
  });
}

port.onmessage = (ev) => {
  const m = ev.data;
  if (m.type === "abort") ac.abort();
  else if (m.type === "start" && !started) {
    started = true;
    run(m).catch((err) =>
      port.postMessage({
        type: "error",
        worker: m.worker,
        message: (err as Error)?.stack ?? String(err),
      })
    );
  }
};
port.postMessage({ type: "ready", worker: -1 });
