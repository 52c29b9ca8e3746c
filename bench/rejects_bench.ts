/**
 * The rejects scenario: what bad input costs. A topic where every reading is rejected — the
 * clean workload's 36 devices stamped a day ahead of the ingest clock, so `consume` quarantines
 * each as `future_timestamp` — drained by `consume --until-caught-up` alternating with the same
 * drain of the clean topic (runs: clean, rejects, clean, …; fresh lakehouse and group each), so
 * the ratio rejects/clean is pairwise. The goal (issue 27): rejects drain at ≥ 0.8× the clean
 * rate with no more memory. Every process under /usr/bin/time for CPU and peak RSS.
 *
 * @module
 */
import { benchPipeline, benchProduce, type KafkaBenchEnv } from "./kafka_bench.ts";
import {
  CLEAN_SITE,
  type PeerFigures,
  peerFigures,
  type PeerRatios,
  peerRatios,
  type PeerRun,
  runLine,
} from "./peers_bench.ts";
import { PRODUCERS } from "./sizes.ts";

/** What the rejects scenario returns (JSON of latest.json). */
export interface RejectsResult {
  messages: number;
  runs: number;
  /** The produce options of the rejects topic. */
  produced: string;
  clean: PeerFigures;
  rejects: PeerFigures;
  /** rejects / clean, pair by pair: msg/s (goal ≥ 0.8), CPU, peak RSS (goal ≤ 1). */
  rejectsOverClean: PeerRatios;
  /** Rows the first rejects drain wrote: all quarantine, no silver. */
  rows: { bronze: number; silver: number; quarantine: number };
}

/** The clean site with its start moved a day past now: every reading a `future_timestamp`. */
export function futureSite(nowMs = Date.now()): string[] {
  const start = new Date(Math.floor(nowMs / 1000) * 1000 + 86_400_000).toISOString();
  return CLEAN_SITE.map((a, i) => (CLEAN_SITE[i - 1] === "--start" ? start : a));
}

/**
 * Produces the rejects topic (and the clean one unless `cleanTopic` is given: the peers
 * scenario's), then `runs` alternating drains of each.
 */
export async function benchRejects(
  env: KafkaBenchEnv,
  opts: {
    messages: number;
    runs: number;
    topic: (name: string) => string;
    freshDir: () => string;
    cleanTopic: string | null;
  },
): Promise<RejectsResult> {
  const site = futureSite();
  const rejectsTopic = opts.topic("rejects");
  await benchProduce(env, rejectsTopic, opts.messages, PRODUCERS.after, "none", site);
  let cleanTopic = opts.cleanTopic;
  if (!cleanTopic) {
    cleanTopic = opts.topic("rejects-clean");
    await benchProduce(env, cleanTopic, opts.messages, PRODUCERS.after, "none", CLEAN_SITE);
  }
  const clean: PeerRun[] = [];
  const rejects: PeerRun[] = [];
  let rows = { bronze: 0, silver: 0, quarantine: 0 };
  for (let i = 0; i < opts.runs; i++) {
    const c = await benchPipeline(env, cleanTopic, opts.freshDir(), { measureRss: true });
    const r = await benchPipeline(env, rejectsTopic, opts.freshDir(), { measureRss: true });
    clean.push(c);
    rejects.push(r);
    if (i === 0) rows = r.rows;
    env.log(
      `  run ${i + 1}: ${runLine("clean", c)}; ${
        runLine("rejects", r)
      } (quarantine ${r.rows.quarantine}, silver ${r.rows.silver})`,
    );
  }
  return {
    messages: opts.messages,
    runs: opts.runs,
    produced: ["--faults none", ...site].join(" "),
    clean: peerFigures(clean),
    rejects: peerFigures(rejects),
    rejectsOverClean: peerRatios(rejects, clean),
    rows,
  };
}
