/**
 * Consumer lag measured against the tables, the only place positions are true: per partition,
 * the topic's end offset minus the resume position the Delta txn versions give (one past the
 * smallest offset bronze, silver and quarantine all hold). Kafka's committed group offsets are
 * not used — they are informational and may lag the tables.
 */
import type { Admin } from "kafkajs";

export interface PartitionLag {
  partition: number;
  /** Next offset Kafka will write. */
  end: number;
  /** Next offset the tables need. */
  resume: number;
  lag: number;
}

export interface TopicLag {
  topic: string;
  total: number;
  partitions: PartitionLag[];
}

/** Lag of every partition of `topic` given a resume position per partition. */
export async function topicLag(
  admin: Admin,
  topic: string,
  resume: (partition: number) => number,
): Promise<TopicLag> {
  return lagFromEnds(topic, await endOffsets(admin, topic), resume);
}

/** End offset (next offset to be written) per partition of `topic`. */
export async function endOffsets(admin: Admin, topic: string): Promise<Map<number, number>> {
  const ends = new Map<number, number>();
  for (const p of await admin.fetchTopicOffsets(topic)) ends.set(p.partition, Number(p.high));
  return ends;
}

function lagFromEnds(
  topic: string,
  ends: Map<number, number>,
  resume: (partition: number) => number,
): TopicLag {
  const partitions = [...ends].sort((a, b) => a[0] - b[0]).map(([partition, end]) => {
    const r = resume(partition);
    return { partition, end, resume: r, lag: Math.max(0, end - r) };
  });
  return { topic, total: partitions.reduce((n, p) => n + p.lag, 0), partitions };
}

/** Fetches a topic's lag; an unreachable broker answers with an error, never a hang. */
export interface LagSource {
  topic: string;
  appName: string;
  fetch(resume: (partition: number) => number): Promise<TopicLag>;
  close(): Promise<void>;
}

/**
 * A lag source for readers (the dashboard): one admin connection, end offsets fetched at most
 * every `minIntervalMs`, and after a failure no new attempt for `backoffMs`, so a stopped broker
 * never slows the reader's refresh loop.
 */
export function cachedLagSource(
  admin: Admin,
  topic: string,
  appName: string,
  opts: { minIntervalMs?: number; backoffMs?: number } = {},
): LagSource {
  let connected = false;
  let last: { at: number; ends: Map<number, number> } | null = null;
  let failedAt = 0;
  let failure: Error | null = null;
  return {
    topic,
    appName,
    async fetch(resume) {
      const now = Date.now();
      if (failure && now - failedAt < (opts.backoffMs ?? 30_000)) throw failure;
      if (!last || now - last.at >= (opts.minIntervalMs ?? 5_000)) {
        try {
          if (!connected) {
            await admin.connect();
            connected = true;
          }
          last = { at: now, ends: await endOffsets(admin, topic) };
          failure = null;
        } catch (err) {
          failure = err instanceof Error ? err : new Error(String(err));
          failedAt = now;
          throw failure;
        }
      }
      return lagFromEnds(topic, last.ends, resume);
    },
    async close() {
      if (connected) await admin.disconnect().catch(() => {});
    },
  };
}
