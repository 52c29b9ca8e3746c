/**
 * Kafka → bronze/silver/quarantine: the consumer-group loop around an Ingestor.
 *
 * The source of truth for positions is the Delta log, never Kafka: the txn appId of a partition
 * is `<app>-<topic>-<partition>` and its version the last offset written. When a partition is
 * first seen after start or a rebalance we compare the batch kafkajs delivers with the resume
 * position from the tables and seek there if Kafka's committed offset disagrees (it lags after a
 * crash between the Delta commit and the Kafka commit; it may run ahead if the lakehouse was
 * reset). Records the tables already hold are dropped by the writer's thresholds anyway.
 * Kafka-side offset commits happen after each Delta flush, only so lag shows in Kafka tools.
 */
import type { Consumer, EachBatchPayload, Kafka } from "kafkajs";
import type { SourceRecord } from "../batch.ts";
import type { Ingestor } from "../ingestor.ts";
import { endOffsets, topicLag } from "../../kafka/lag.ts";
import { partitionAppId, partitionOfAppId } from "../positions.ts";

export interface ConsumerOptions {
  topic: string;
  groupId: string;
  /** Prefix of txn appIds; keep it stable across deployments of the same pipeline. */
  appName: string;
  /** Exit once every partition reached the end offset it had at start and all is committed. */
  untilCaughtUp?: boolean;
  /** Progress line interval, ms (0 = none). */
  progressIntervalMs?: number;
  log?: (line: string) => void;
  /**
   * Group session timeout, ms (default 10 s): how long a crashed member holds its partitions
   * before the group reassigns them. Kafka's floor is 6 s.
   */
  sessionTimeoutMs?: number;
  /** Largest message kafkajs fetches per partition; must exceed the largest message. */
  maxBytesPerPartition?: number;
}

export interface ConsumeSummary {
  records: number;
  rows: { bronze: number; silver: number; quarantine: number };
  duplicates: number;
  flushes: number;
  /** Auto-compaction commits, and the small files they replaced. */
  compactions: number;
  filesCompacted: number;
  seconds: number;
  lastVersions: Partial<Record<"bronze" | "silver" | "quarantine", number>>;
}

/**
 * How the consumer fetches; the bench's bare consumer uses the same, so the ratio measures what
 * the pipeline adds. Kafka returns at least one message even when it exceeds these, so they
 * bound memory without ever blocking on a large message. One response of about 1 MiB at a time:
 * responses are garbage V8 only frees when it collects, and 1 MiB instead of 4 lowered peak RSS
 * with no loss of throughput (measured draining 5M messages).
 */
export const FETCH_SETTINGS = {
  maxBytesPerPartition: 1024 * 1024,
  maxBytes: 1024 * 1024,
  maxWaitTimeInMs: 100,
} as const;

function memoryLine(): string {
  const m = Deno.memoryUsage();
  const mb = (n: number) => Math.round(n / 1048576);
  return `${mb(m.rss)}MB (js heap ${mb(m.heapUsed)}/${mb(m.heapTotal)}MB, external ${
    mb(m.external)
  }MB)`;
}

/** kafkajs errors a broker outage produces (checked down the `cause` chain). */
const CONNECTION_ERRORS = new Set([
  "KafkaJSConnectionError",
  "KafkaJSConnectionClosedError",
  "KafkaJSRequestTimeoutError",
  "KafkaJSBrokerNotFound",
  "KafkaJSNoBrokerAvailableError",
  "KafkaJSGroupCoordinatorNotFound",
  "KafkaJSNumberOfRetriesExceeded",
]);

/** True when `err` (or a cause) is a connection-level Kafka error, i.e. worth rejoining. */
export function isConnectionError(err: unknown): boolean {
  for (let e = err as { name?: string; cause?: unknown } | undefined, i = 0; e && i < 10; i++) {
    if (typeof e.name === "string" && CONNECTION_ERRORS.has(e.name)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

/** A running consumer; `stop()` flushes, commits and leaves the group. */
export interface RunningConsumer {
  /** Resolves when the consumer stopped (caught up, stopped, or failed). */
  done: Promise<ConsumeSummary>;
  stop(): Promise<ConsumeSummary>;
}

/** Starts consuming; returns at once with a handle. */
export async function startConsumer(
  kafka: Kafka,
  ingestor: Ingestor,
  opts: ConsumerOptions,
): Promise<RunningConsumer> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const started = performance.now();
  const consumer: Consumer = kafka.consumer({
    groupId: opts.groupId,
    ...FETCH_SETTINGS,
    ...(opts.maxBytesPerPartition
      ? { maxBytesPerPartition: opts.maxBytesPerPartition, maxBytes: opts.maxBytesPerPartition }
      : {}),
    sessionTimeout: opts.sessionTimeoutMs ?? 10_000,
    heartbeatInterval: Math.max(500, Math.floor((opts.sessionTimeoutMs ?? 10_000) / 5)),
    retry: { retries: 30, initialRetryTime: 300, maxRetryTime: 5_000 },
  });
  const admin = kafka.admin();
  await admin.connect();

  // End offsets at start, for --until-caught-up and lag.
  const endAtStart = new Map<number, number>();

  if (opts.untilCaughtUp) {
    for (const [p, high] of await endOffsets(admin, opts.topic)) endAtStart.set(p, high);
  }

  /** Partitions whose position has been checked against the tables since the last join. */
  const verified = new Map<number, { expected: number; sought: boolean }>();
  let stopping = false;
  let finished = false;
  let failure: unknown = null;
  let resolveDone!: (s: ConsumeSummary) => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<ConsumeSummary>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  const summary = (): ConsumeSummary => ({
    records: ingestor.totals.records,
    rows: { ...ingestor.totals.rows },
    duplicates: ingestor.totals.duplicates,
    flushes: ingestor.totals.flushes,
    compactions: ingestor.totals.compactions,
    filesCompacted: ingestor.totals.filesCompacted,
    seconds: (performance.now() - started) / 1000,
    lastVersions: { ...ingestor.totals.lastVersions },
  });

  const commitKafkaOffsets = (lastPositions: Map<string, number>) => {
    const offsets = [];
    for (const [appId, pos] of lastPositions) {
      const partition = partitionOfAppId(appId, opts.appName, opts.topic);
      if (partition !== null) {
        offsets.push({ topic: opts.topic, partition, offset: String(pos + 1) });
      }
    }
    if (offsets.length) consumer.commitOffsets(offsets).catch(() => {/* informational only */});
  };

  ingestor.onCommitted = commitKafkaOffsets;
  const flush = () => ingestor.flushNow();

  /** Whether every partition's `position` has reached its end offset at start. */
  const reachedEnds = (position: (appId: string) => number): boolean => {
    for (const [p, high] of endAtStart) {
      if (position(partitionAppId(opts.appName, opts.topic, p)) < high) return false;
    }
    return true;
  };

  const caughtUp = async (): Promise<boolean> => {
    if (!opts.untilCaughtUp || ingestor.buffered > 0) return false;
    await ingestor.writer.refresh();
    return reachedEnds((appId) => ingestor.resumePosition(appId));
  };

  const finish = async (err?: unknown) => {
    if (finished) return;
    finished = true;
    stopping = true;
    clearInterval(timer);
    clearInterval(progressTimer);
    clearTimeout(rejoinTimer);
    try {
      if (!err) await ingestor.exclusive(flush);
    } catch (e) {
      err = err ?? e;
    }
    await consumer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
    if (err) rejectDone(err);
    else resolveDone(summary());
  };

  const fail = (err: unknown) => {
    if (failure) return;
    failure = err;
    log(`consumer stopping on error: ${(err as Error)?.message ?? String(err)}`);
    finish(err);
  };

  // Latency-driven flushes and the caught-up check run on a timer: no message may arrive.
  let checking = false;
  const timer = setInterval(() => {
    if (stopping || checking) return;
    checking = true;
    ingestor.exclusive(async () => {
      if (stopping) return;
      // With --until-caught-up, the batch holding the last records flushes at once: nothing
      // more is coming for it to wait for.
      const last = opts.untilCaughtUp && ingestor.buffered > 0 &&
        reachedEnds((appId) => ingestor.receivedThrough(appId));
      if (last || ingestor.shouldFlush()) await ingestor.startFlush();
      if (await caughtUp()) {
        log("caught up with the end offsets seen at start; stopping");
        stopping = true;
      }
    }).then(() => {
      if (stopping && !finished) finish();
    }, fail).finally(() => (checking = false));
  }, 100);

  let lastProgress = { at: performance.now(), records: 0 };
  const progressTimer = setInterval(async () => {
    if (stopping) return;
    try {
      const { total: lag } = await topicLag(
        admin,
        opts.topic,
        (p) => ingestor.resumePosition(partitionAppId(opts.appName, opts.topic, p)),
      );
      const now = performance.now();
      const rate = (ingestor.totals.records - lastProgress.records) /
        ((now - lastProgress.at) / 1000);
      lastProgress = { at: now, records: ingestor.totals.records };
      const t = ingestor.totals;
      const age = t.newestEventMs ? (Date.now() - t.newestEventMs) / 1000 : undefined;
      // Simulated time can run ahead of the wall clock (--speedup): say so, not "-2191.5s".
      const fresh = age === undefined
        ? "-"
        : age >= 0
        ? `${age.toFixed(1)}s`
        : `n/a (newest event ${(-age).toFixed(0)}s ahead of the clock)`;
      const v = t.lastVersions;
      log(
        `consume: ${
          Math.round(rate)
        } msg/s, lag ${lag}, rows bronze ${t.rows.bronze} silver ${t.rows.silver} ` +
          `quarantine ${t.rows.quarantine} dup ${t.duplicates}, versions b${v.bronze ?? "-"}/s${
            v.silver ?? "-"
          }/q${v.quarantine ?? "-"}, freshness ${fresh}, rss ${memoryLine()}`,
      );
    } catch { /* broker away: the next line will tell */ }
  }, opts.progressIntervalMs || 5000);
  if (!opts.progressIntervalMs) clearInterval(progressTimer);

  consumer.on(consumer.events.GROUP_JOIN, () => {
    // New assignment: commit what we hold (partitions may have moved), then rebuild dedup
    // state and positions from the tables, which now include every other member's commits.
    ingestor.exclusive(async () => {
      if (stopping) return;
      await flush();
      await ingestor.resync();
      verified.clear();
    }).catch(fail);
  });
  /*
   * kafkajs restarts itself only after errors it deems retriable; a broker outage can end in
   * one it does not (KafkaJSGroupCoordinatorNotFound when every broker refused the
   * connection), and the consumer would then stop for good. Connection-level errors are
   * never a reason to stop: rejoin with backoff until the broker is back. The GROUP_JOIN
   * that follows re-reads positions from the tables, so nothing is lost or repeated.
   */
  let rejoinTimer: ReturnType<typeof setTimeout> | undefined;
  let rejoins = 0;
  const rejoin = () => {
    const delay = Math.min(10_000, 500 * 2 ** Math.min(rejoins++, 5));
    rejoinTimer = setTimeout(async () => {
      if (stopping) return;
      try {
        await consumer.connect();
        await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
        await consumer.run(runConfig);
      } catch (err) {
        log(`kafka consumer rejoin failed: ${(err as Error)?.message ?? err}; retrying`);
        rejoin();
      }
    }, delay);
  };
  consumer.on(consumer.events.CRASH, (e) => {
    const err = e.payload.error;
    if (e.payload.restart) log(`kafka consumer restarting after: ${err.message}`);
    else if (stopping || failure || !isConnectionError(err)) fail(err);
    else {
      log(`kafka consumer lost the broker (${err.message}); rejoining`);
      rejoin();
    }
  });
  consumer.on(consumer.events.GROUP_JOIN, () => (rejoins = 0));

  const eachBatch = async ({ batch, heartbeat, isRunning, isStale }: EachBatchPayload) => {
    // An ingestor error (a flush that could not write) is fatal: stop with it. Thrown into
    // kafkajs it would be retried forever, re-adding the batch to an ingestor that lost one.
    await ingestor.exclusive(async () => {
      if (stopping || !isRunning() || isStale() || batch.messages.length === 0) return;
      const partition = batch.partition;
      const appId = partitionAppId(opts.appName, opts.topic, partition);
      const first = Number(batch.messages[0].offset);
      let check = verified.get(partition);
      if (!check) {
        check = { expected: ingestor.resumePosition(appId), sought: false };
        verified.set(partition, check);
      }
      // Kafka's committed offset disagrees with the tables by more than one batch: seek.
      // Once sought, a later first offset means the log start moved past us (retention).
      if (!check.sought && (first > check.expected || first + 10_000 < check.expected)) {
        check.sought = true;
        log(
          `partition ${partition}: seeking to offset ${check.expected} (tables) from ${first} (Kafka)`,
        );
        consumer.seek({ topic: opts.topic, partition, offset: String(check.expected) });
        return;
      }
      if (first > check.expected) {
        log(
          `partition ${partition}: offsets ${check.expected}..${first - 1} are no longer in Kafka`,
        );
      }
      check.sought = true;
      const records: SourceRecord[] = [];
      for (const m of batch.messages) {
        records.push({
          appId,
          position: Number(m.offset),
          source: "kafka",
          topic: opts.topic,
          partition,
          key: m.key ? m.key.toString("utf8") : null,
          kafkaTimestampMs: m.timestamp ? Number(m.timestamp) : null,
          file: null,
          payload: m.value ?? new Uint8Array(0),
        });
      }
      check.expected = Number(batch.messages[batch.messages.length - 1].offset) + 1;
      await ingestor.addAll(records);
    }).catch(fail);
    if (!stopping) await heartbeat().catch(() => {});
  };

  await consumer.connect();
  await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
  const runConfig = { autoCommit: false, eachBatch, partitionsConsumedConcurrently: 1 };
  await consumer.run(runConfig);

  return {
    done,
    stop: async () => {
      stopping = true;
      await finish();
      return await done;
    },
  };
}
