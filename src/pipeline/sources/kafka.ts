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
import type { Admin, Consumer, EachBatchPayload, Kafka } from "kafkajs";
import type { SourceRecord } from "../batch.ts";
import type { Ingestor } from "../ingestor.ts";
import { endOffsets, topicLag } from "../../kafka/lag.ts";
import { partitionAppId, partitionOfAppId } from "../positions.ts";
import { errorText } from "../../config.ts";
import { backoffDelay } from "../../retry.ts";
import { eventAgeText } from "../../progress.ts";

/** How often a batch handler still at work heartbeats (kafkajs throttles to heartbeatInterval). */
const HEARTBEAT_WHILE_BUSY_MS = 1000;

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
  /** Messages this run wrote (each one bronze row): new to the tables, counted once. */
  records: number;
  /**
   * Messages delivered again that the tables already held, dropped (redelivered from Kafka's
   * committed offset, which trails the tables, after a rebalance or rejoin). Not in `records`.
   */
  redelivered: number;
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
  /** Group membership and broker contact, for health checks. */
  status(): ConsumerStatus;
}

/** What a health check needs to know of the group consumer. */
export interface ConsumerStatus {
  /** Joined the group, and no crash, rebalance or stop since. */
  member: boolean;
  /** performance.now() of the last answer from the broker (fetch, heartbeat, join), or null. */
  lastContactAt: number | null;
  /** The last error kafkajs reported (crash), if any since the last join. */
  lastError: string | null;
  sessionTimeoutMs: number;
}

/** Starts consuming; returns at once with a handle. */
export async function startConsumer(
  kafka: Kafka,
  ingestor: Ingestor,
  opts: ConsumerOptions,
): Promise<RunningConsumer> {
  const source = new KafkaSource(kafka, ingestor, opts);
  await source.start();
  return source;
}

/**
 * The consumer's state machine: joining, consuming, flushing on a timer, rejoining after a
 * broker outage, and finishing exactly once (caught up, stopped, or failed). Every step that
 * touches the ingestor runs inside `ingestor.exclusive`, so a timer flush, a rebalance and a
 * batch never interleave.
 */
class KafkaSource implements RunningConsumer {
  readonly done: Promise<ConsumeSummary>;
  readonly #ingestor: Ingestor;
  readonly #opts: ConsumerOptions;
  readonly #log: (line: string) => void;
  readonly #started = performance.now();
  readonly #consumer: Consumer;
  readonly #admin: Admin;
  /** End offsets at start, for --until-caught-up. */
  readonly #endAtStart = new Map<number, number>();
  /** Partitions whose position has been checked against the tables since the last join. */
  readonly #verified = new Map<number, { expected: number; sought: boolean }>();
  readonly #runConfig = {
    autoCommit: false,
    eachBatch: (payload: EachBatchPayload) => this.#eachBatch(payload),
    partitionsConsumedConcurrently: 1,
  };
  readonly #status: ConsumerStatus;
  #stopping = false;
  #finished = false;
  #failure: unknown = null;
  #checking = false;
  #rejoins = 0;
  #lastProgress = { at: performance.now(), records: 0 };
  #flushTimer: ReturnType<typeof setInterval> | undefined;
  #progressTimer: ReturnType<typeof setInterval> | undefined;
  #rejoinTimer: ReturnType<typeof setTimeout> | undefined;
  #resolveDone!: (s: ConsumeSummary) => void;
  #rejectDone!: (e: unknown) => void;

  constructor(kafka: Kafka, ingestor: Ingestor, opts: ConsumerOptions) {
    this.#ingestor = ingestor;
    this.#opts = opts;
    this.#log = opts.log ?? ((line: string) => console.error(line));
    const sessionTimeout = opts.sessionTimeoutMs ?? 10_000;
    this.#consumer = kafka.consumer({
      groupId: opts.groupId,
      ...FETCH_SETTINGS,
      ...(opts.maxBytesPerPartition
        ? { maxBytesPerPartition: opts.maxBytesPerPartition, maxBytes: opts.maxBytesPerPartition }
        : {}),
      sessionTimeout,
      heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 5)),
      retry: { retries: 30, initialRetryTime: 300, maxRetryTime: 5_000 },
    });
    this.#admin = kafka.admin();
    this.#status = {
      member: false,
      lastContactAt: null,
      lastError: null,
      sessionTimeoutMs: sessionTimeout,
    };
    this.done = new Promise<ConsumeSummary>((res, rej) => {
      this.#resolveDone = res;
      this.#rejectDone = rej;
    });
  }

  async start(): Promise<void> {
    const opts = this.#opts;
    await this.#admin.connect();
    if (opts.untilCaughtUp) {
      for (const [p, high] of await endOffsets(this.#admin, opts.topic)) {
        this.#endAtStart.set(p, high);
      }
    }
    this.#ingestor.onCommitted = (positions) => this.#commitKafkaOffsets(positions);
    // Latency-driven flushes and the caught-up check run on a timer: no message may arrive.
    this.#flushTimer = setInterval(() => this.#tick(), 100);
    if (opts.progressIntervalMs) {
      this.#progressTimer = setInterval(() => this.#progress(), opts.progressIntervalMs);
    }
    const events = this.#consumer.events;
    this.#consumer.on(events.GROUP_JOIN, () => this.#joined());
    this.#consumer.on(events.CRASH, (e) => this.#crashed(e.payload.error, e.payload.restart));
    this.#watchStatus();
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topic: opts.topic, fromBeginning: true });
    await this.#consumer.run(this.#runConfig);
  }

  async stop(): Promise<ConsumeSummary> {
    this.#stopping = true;
    await this.#finish();
    return await this.done;
  }

  status(): ConsumerStatus {
    return { ...this.#status };
  }

  /** Keeps #status from kafkajs' instrumentation events (a timestamp per fetch: cheap). */
  #watchStatus(): void {
    const c = this.#consumer;
    const s = this.#status;
    const contact = () => (s.lastContactAt = performance.now());
    for (const e of [c.events.FETCH, c.events.HEARTBEAT, c.events.COMMIT_OFFSETS]) c.on(e, contact);
    c.on(c.events.GROUP_JOIN, () => {
      contact();
      s.member = true;
      s.lastError = null;
    });
    c.on(c.events.CRASH, (e) => {
      s.member = false;
      s.lastError = errorText(e.payload.error);
    });
    for (const e of [c.events.REBALANCING, c.events.STOP, c.events.DISCONNECT]) {
      c.on(e, () => (s.member = false));
    }
  }

  #appId(partition: number): string {
    return partitionAppId(this.#opts.appName, this.#opts.topic, partition);
  }

  #summary(): ConsumeSummary {
    const t = this.#ingestor.totals;
    return {
      records: t.records,
      redelivered: t.alreadyHeld,
      rows: { ...t.rows },
      duplicates: t.duplicates,
      flushes: t.flushes,
      compactions: t.compactions,
      filesCompacted: t.filesCompacted,
      seconds: (performance.now() - this.#started) / 1000,
      lastVersions: { ...t.lastVersions },
    };
  }

  /** Kafka-side commits are informational only (lag in Kafka tools): the tables hold positions. */
  #commitKafkaOffsets(lastPositions: Map<string, number>): void {
    const { appName, topic } = this.#opts;
    const offsets = [];
    for (const [appId, pos] of lastPositions) {
      const partition = partitionOfAppId(appId, appName, topic);
      if (partition !== null) offsets.push({ topic, partition, offset: String(pos + 1) });
    }
    if (offsets.length) this.#consumer.commitOffsets(offsets).catch(() => {});
  }

  /** Whether every partition's `position` has reached its end offset at start. */
  #reachedEnds(position: (appId: string) => number): boolean {
    for (const [p, high] of this.#endAtStart) {
      if (position(this.#appId(p)) < high) return false;
    }
    return true;
  }

  async #caughtUp(): Promise<boolean> {
    const ingestor = this.#ingestor;
    if (!this.#opts.untilCaughtUp || ingestor.buffered > 0) return false;
    await ingestor.writer.refresh();
    return this.#reachedEnds((appId) => ingestor.resumePosition(appId));
  }

  async #finish(err?: unknown): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    this.#stopping = true;
    clearInterval(this.#flushTimer);
    clearInterval(this.#progressTimer);
    clearTimeout(this.#rejoinTimer);
    try {
      if (!err) await this.#ingestor.exclusive(() => this.#ingestor.flushNow());
    } catch (e) {
      err = err ?? e;
    }
    await this.#consumer.disconnect().catch(() => {});
    await this.#admin.disconnect().catch(() => {});
    if (err) this.#rejectDone(err);
    else this.#resolveDone(this.#summary());
  }

  #fail(err: unknown): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#log(`consumer stopping on error: ${errorText(err)}`);
    this.#finish(err);
  }

  #tick(): void {
    if (this.#stopping || this.#checking) return;
    this.#checking = true;
    const ingestor = this.#ingestor;
    ingestor.exclusive(async () => {
      if (this.#stopping) return;
      // With --until-caught-up, the batch holding the last records flushes at once: nothing
      // more is coming for it to wait for.
      const last = this.#opts.untilCaughtUp && ingestor.buffered > 0 &&
        this.#reachedEnds((appId) => ingestor.receivedThrough(appId));
      if (last || ingestor.shouldFlush()) await ingestor.startFlush();
      if (await this.#caughtUp()) {
        this.#log("caught up with the end offsets seen at start; stopping");
        this.#stopping = true;
      }
    }).then(() => {
      if (this.#stopping && !this.#finished) this.#finish();
    }, (err) => this.#fail(err)).finally(() => (this.#checking = false));
  }

  async #progress(): Promise<void> {
    if (this.#stopping) return;
    const ingestor = this.#ingestor;
    try {
      const { total: lag } = await topicLag(
        this.#admin,
        this.#opts.topic,
        (p) => ingestor.resumePosition(this.#appId(p)),
      );
      const now = performance.now();
      const t = ingestor.totals;
      const rate = (t.records - this.#lastProgress.records) /
        ((now - this.#lastProgress.at) / 1000);
      this.#lastProgress = { at: now, records: t.records };
      const age = t.newestEventMs ? (Date.now() - t.newestEventMs) / 1000 : undefined;
      const v = t.lastVersions;
      this.#log(
        `consume: ${
          Math.round(rate)
        } msg/s, lag ${lag}, rows bronze ${t.rows.bronze} silver ${t.rows.silver} ` +
          `quarantine ${t.rows.quarantine} dup ${t.duplicates}, versions b${v.bronze ?? "-"}/s${
            v.silver ?? "-"
          }/q${v.quarantine ?? "-"}, ${eventAgeText(age)}, rss ${memoryLine()}`,
      );
    } catch { /* broker away: the next line will tell */ }
  }

  /**
   * New assignment: commit what we hold (partitions may have moved), then rebuild dedup state
   * and positions from the tables, which now include every other member's commits.
   */
  #joined(): void {
    this.#rejoins = 0;
    const ingestor = this.#ingestor;
    ingestor.exclusive(async () => {
      if (this.#stopping) return;
      await ingestor.flushNow();
      await ingestor.resync();
      this.#verified.clear();
      ingestor.clearBacklog();
    }).catch((err) => this.#fail(err));
  }

  /*
   * kafkajs restarts itself only after errors it deems retriable; a broker outage can end in
   * one it does not (KafkaJSGroupCoordinatorNotFound when every broker refused the
   * connection), and the consumer would then stop for good. Connection-level errors are
   * never a reason to stop: rejoin with backoff until the broker is back. The GROUP_JOIN
   * that follows re-reads positions from the tables, so nothing is lost or repeated.
   */
  #crashed(err: Error, restart: boolean): void {
    if (restart) this.#log(`kafka consumer restarting after: ${err.message}`);
    else if (this.#stopping || this.#failure || !isConnectionError(err)) this.#fail(err);
    else {
      this.#log(`kafka consumer lost the broker (${err.message}); rejoining`);
      this.#rejoin();
    }
  }

  #rejoin(): void {
    const delay = backoffDelay(this.#rejoins++, { baseMs: 500, maxMs: 10_000 });
    this.#rejoinTimer = setTimeout(async () => {
      if (this.#stopping) return;
      try {
        await this.#consumer.connect();
        await this.#consumer.subscribe({ topic: this.#opts.topic, fromBeginning: true });
        await this.#consumer.run(this.#runConfig);
      } catch (err) {
        this.#log(`kafka consumer rejoin failed: ${(err as Error)?.message ?? err}; retrying`);
        this.#rejoin();
      }
    }, delay);
  }

  async #eachBatch({ batch, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    // A flush waiting out a storage outage can hold this handler longer than the session
    // timeout; heartbeats keep the member in its group meanwhile (kafkajs only heartbeats
    // between batches), so the outage is not also a rebalance.
    const beat = setInterval(() => heartbeat().catch(() => {}), HEARTBEAT_WHILE_BUSY_MS);
    try {
      // An ingestor error (a flush that could not write) is fatal: stop with it. Thrown into
      // kafkajs it would be retried forever, re-adding the batch to an ingestor that lost one.
      await this.#ingestor.exclusive(async () => {
        if (this.#stopping || !isRunning() || isStale() || batch.messages.length === 0) return;
        const records = this.#positioned(batch);
        if (!records) return;
        this.#ingestor.reportBacklog(
          String(batch.partition),
          Number(batch.highWatermark) - Number(batch.lastOffset()) - 1,
        );
        await this.#ingestor.addAll(records);
      }).catch((err) => this.#fail(err));
    } finally {
      clearInterval(beat);
    }
    if (!this.#stopping) await heartbeat().catch(() => {});
  }

  /**
   * The batch as source records, or null when the consumer must first seek: Kafka's committed
   * offset disagrees with the tables by more than one batch. Once sought, a later first offset
   * means the log start moved past us (retention).
   */
  #positioned(batch: EachBatchPayload["batch"]): SourceRecord[] | null {
    const { topic } = this.#opts;
    const partition = batch.partition;
    const appId = this.#appId(partition);
    const first = Number(batch.messages[0].offset);
    let check = this.#verified.get(partition);
    if (!check) {
      check = { expected: this.#ingestor.resumePosition(appId), sought: false };
      this.#verified.set(partition, check);
    }
    if (!check.sought && (first > check.expected || first + 10_000 < check.expected)) {
      check.sought = true;
      this.#log(
        `partition ${partition}: seeking to offset ${check.expected} (tables) from ${first} (Kafka)`,
      );
      this.#consumer.seek({ topic, partition, offset: String(check.expected) });
      return null;
    }
    if (first > check.expected) {
      this.#log(
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
        topic,
        partition,
        key: m.key ? m.key.toString("utf8") : null,
        kafkaTimestampMs: m.timestamp ? Number(m.timestamp) : null,
        file: null,
        payload: m.value ?? new Uint8Array(0),
      });
    }
    check.expected = Number(batch.messages[batch.messages.length - 1].offset) + 1;
    return records;
  }
}
