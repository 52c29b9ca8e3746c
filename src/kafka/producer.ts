/**
 * Producing to Kafka in batches, at a bounded rate, without ever dropping a message.
 *
 * kafkajs neither lingers nor batches, so we pull arrays of messages from the source and send
 * each array in one request. When the broker is unreachable a batch is retried with backoff —
 * forever, until it is acknowledged or the run is aborted — so a broker stopped for 20 s costs
 * a pause, not data. Retrying a batch whose acknowledgement was lost can write it twice
 * (at-least-once); readings carry their own identity, which is what the pipeline dedups on.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { setTimeout as timeout } from "node:timers/promises";
import {
  type Admin,
  CompressionTypes,
  type ICustomPartitioner,
  type Kafka,
  type Message,
  Partitioners,
  type Producer,
} from "kafkajs";
import { retrying } from "../retry.ts";

/** A message to send: key (for partitioning) and value. Extra properties are ignored. */
export interface OutgoingMessage {
  key: string | null;
  value: string | Uint8Array;
}

/** Where messages come from: anything iterable, or a batch puller like the simulator. */
export type MessageSource<T extends OutgoingMessage> =
  | Iterable<T>
  | AsyncIterable<T>
  | { nextBatch(max: number): T[] | Promise<T[]> };

/** Progress reported every `progressIntervalMs`. */
export interface ProduceProgress {
  /** Messages acknowledged by the broker so far. */
  sent: number;
  /** Send attempts that failed (each was retried). */
  errors: number;
  /** Acknowledged messages per second over the last interval. */
  rate: number;
  elapsedMs: number;
  /** Set while batches wait for an unreachable broker. */
  retrying: { attempt: number; error: string } | null;
}

/** What a run achieved. */
export interface ProduceResult {
  sent: number;
  /** UTF-8 bytes of the keys and values acknowledged (the payload, not Kafka's framing). */
  bytes: number;
  batches: number;
  errors: number;
  /** Messages pulled from the source but never acknowledged (only after an abort). */
  unsent: number;
  elapsedMs: number;
  msgsPerSec: number;
  aborted: boolean;
}

/** Options of {@link produce}; every default is documented. */
export interface ProduceOptions<T extends OutgoingMessage = OutgoingMessage> {
  /** -1 all in-sync replicas (default), 1 leader, 0 none. */
  acks?: -1 | 0 | 1;
  compression?: "none" | "gzip";
  /**
   * Messages per send request (default 1000; smaller when the rate is low). Larger is slower:
   * kafkajs groups a request's messages per partition by copying the group's array for every
   * message, so CPU per message grows with the batch.
   */
  batchSize?: number;
  /** Concurrent send requests (default 3): overlaps encoding with the broker's round trip. */
  maxInFlight?: number;
  /** Messages per second; 0 or undefined: as fast as possible ("burst mode"). */
  rate?: number;
  /** Stops pulling new messages; in-flight batches finish (or give up if still failing). */
  signal?: AbortSignal;
  onProgress?: (p: ProduceProgress) => void;
  /** Default 2000 ms. */
  progressIntervalMs?: number;
  /** Called after each acknowledged batch (e.g. to stream truth episodes). */
  onBatch?: (sent: number) => void;
  /**
   * Called with each batch just before it is handed to kafkajs (`at` = performance.now()), so a
   * benchmark can time produce → visible from the moment a message leaves the application.
   */
  onSend?: (batch: readonly T[], at: number) => void;
  /**
   * Backoff between retries of a failing batch: initial and max, ms (default 250 / 5000), each
   * delay jittered ±50 % by {@link retrying} so producers do not retry in step.
   */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Extra producer config (tests). */
  producerConfig?: Parameters<Kafka["producer"]>[0];
}

/** Raised by ensureTopic when the topic exists with fewer partitions than asked. */
export class TopicPartitionsError extends Error {
  constructor(readonly topic: string, readonly existing: number, readonly wanted: number) {
    super(
      `topic "${topic}" exists with ${existing} partitions, fewer than the ${wanted} asked; ` +
        `use it as is (--partitions ${existing}) or another topic`,
    );
    this.name = "TopicPartitionsError";
  }
}

/**
 * Creates `topic` with `partitions` partitions if it does not exist. Returns the partition
 * count the topic has. An existing topic with more partitions is fine (keys still spread);
 * one with fewer is an error rather than a silent surprise in parallelism.
 *
 * @example
 * ```ts ignore
 * const admin = kafka.admin();
 * await admin.connect();
 * await ensureTopic(admin, "sensor_data", 3);
 * ```
 */
export async function ensureTopic(
  admin: Admin,
  topic: string,
  partitions: number,
  replicationFactor = 1,
): Promise<{ created: boolean; partitions: number }> {
  const existing = await admin.listTopics();
  let created = false;
  if (!existing.includes(topic)) {
    // false when someone else created it meanwhile: fine, we read its metadata below.
    created = await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor }],
      waitForLeaders: true,
    });
  }
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  const n = meta.topics[0]?.partitions.length ?? 0;
  if (n < partitions) throw new TopicPartitionsError(topic, n, partitions);
  return { created, partitions: n };
}

/**
 * A token bucket: `take(n)` resolves once n tokens are available at `rate` per second. Debt is
 * allowed (one large batch waits proportionally), and at most one second of unused rate is
 * saved, so a pause is not followed by an unbounded burst.
 */
export class TokenBucket {
  #tokens: number;
  #last: number;
  constructor(
    readonly rate: number,
    readonly capacity = rate,
    private now = () => performance.now(),
  ) {
    this.#tokens = 0;
    this.#last = this.now();
  }

  /** Resolves when `n` tokens have been paid for. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    const t = this.now();
    this.#tokens = Math.min(this.capacity, this.#tokens + ((t - this.#last) / 1000) * this.rate);
    this.#last = t;
    this.#tokens -= n;
    if (this.#tokens < 0) await sleep((-this.#tokens / this.rate) * 1000, signal);
  }
}

/** Sleeps `ms`, ending early (without an error) when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return timeout(ms, undefined, { signal }).catch(() => {});
}

function toPuller<T extends OutgoingMessage>(
  src: MessageSource<T>,
): (max: number) => Promise<T[]> {
  if ("nextBatch" in src && typeof src.nextBatch === "function") {
    return async (max) => await src.nextBatch(max);
  }
  if (Symbol.asyncIterator in src) {
    const it = (src as AsyncIterable<T>)[Symbol.asyncIterator]();
    return async (max) => {
      const out: T[] = [];
      while (out.length < max) {
        const r = await it.next();
        if (r.done) break;
        out.push(r.value);
      }
      return out;
    };
  }
  const it = (src as Iterable<T>)[Symbol.iterator]();
  return (max) => {
    const out: T[] = [];
    while (out.length < max) {
      const r = it.next();
      if (r.done) break;
      out.push(r.value);
    }
    return Promise.resolve(out);
  };
}

/** Distinct keys remembered by a {@link KeyBuffers} before it starts over. */
const KEY_CACHE_LIMIT = 65_536;

/**
 * One Buffer per distinct key. Keys repeat (one per device), so encoding each once saves a
 * Buffer per message, and it gives {@link cachingPartitioner} a stable object to remember the
 * key's partition by. Bounded: past KEY_CACHE_LIMIT keys it starts over.
 */
export class KeyBuffers {
  #map = new Map<string, Buffer>();
  get(key: string): Buffer {
    let b = this.#map.get(key);
    if (b === undefined) {
      if (this.#map.size >= KEY_CACHE_LIMIT) this.#map.clear();
      b = Buffer.from(key, "utf8");
      this.#map.set(key, b);
    }
    return b;
  }
}

/**
 * kafkajs' default partitioner, remembered per key object and partition count. The default one
 * copies the key into a new Buffer, hashes it with murmur2 in emulated 64-bit arithmetic and
 * filters the partition list, for every message: under Deno a quarter of a producer's CPU. The
 * partition is the default partitioner's (a key lands where any kafkajs or Java producer puts
 * it); messages without a key still go round-robin through it.
 */
export const cachingPartitioner: ICustomPartitioner = () => {
  const base = Partitioners.DefaultPartitioner();
  const known = new WeakMap<object, { partitions: number; partition: number }>();
  return (args) => {
    const key = args.message.key;
    if (args.message.partition != null || key == null || typeof key !== "object") {
      return base(args);
    }
    const partitions = args.partitionMetadata.length;
    const hit = known.get(key);
    if (hit !== undefined && hit.partitions === partitions) return hit.partition;
    const partition = base(args);
    known.set(key, { partitions, partition });
    return partition;
  };
};

const utf8 = new TextEncoder();

/**
 * The kafkajs messages of a batch, as Buffers: kafkajs would otherwise measure and encode each
 * string itself, more slowly (and only treats Node Buffers as bytes: a plain Uint8Array is
 * wrapped without copying). String values are encoded into ONE Buffer per batch and handed over
 * as views of it: a Buffer of its own per message cost an allocation and a free in the system
 * allocator each (a fifth of a producer's CPU in a profile).
 */
export function toKafkaMessages(batch: OutgoingMessage[], keys: KeyBuffers): Message[] {
  let chars = 0;
  for (const m of batch) if (typeof m.value === "string") chars += m.value.length;
  // UTF-8 needs at most 3 bytes per UTF-16 code unit; ASCII (the common case) needs one.
  let arena = Buffer.allocUnsafe(Math.max(64, chars + (chars >> 2)));
  let used = 0;
  return batch.map((m) => {
    const key = m.key === null ? null : keys.get(m.key);
    const v = m.value;
    if (typeof v !== "string") {
      return {
        key,
        value: Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength),
      };
    }
    if (arena.length - used < v.length * 3) {
      arena = Buffer.allocUnsafe(Math.max(arena.length, v.length * 3));
      used = 0;
    }
    const { written } = utf8.encodeInto(v, arena.subarray(used));
    const value = arena.subarray(used, used + written);
    used += written;
    return { key, value };
  });
}

/**
 * Sends every message of `source` to `topic`, in batches, rate-limited, retrying through
 * broker outages. Connects and disconnects its own producer.
 *
 * @example
 * ```ts ignore
 * const kafka = createKafka({ brokers: ["127.0.0.1:9092"], clientId: "produce" });
 * const r = await produce(kafka, "sensor_data", [{ key: "d1", value: "{}" }]);
 * console.log(r.sent); // 1
 * ```
 */
export async function produce<T extends OutgoingMessage>(
  kafka: Kafka,
  topic: string,
  source: MessageSource<T>,
  opts: ProduceOptions<T> = {},
): Promise<ProduceResult> {
  const acks = opts.acks ?? -1;
  const compression = opts.compression === "gzip" ? CompressionTypes.GZIP : CompressionTypes.None;
  const rate = opts.rate && opts.rate > 0 ? opts.rate : 0;
  // At low rates, ~10 sends per second keep the flow smooth instead of one burst per batch.
  const batchSize = Math.max(
    1,
    Math.min(opts.batchSize ?? 1000, rate > 0 ? Math.ceil(rate / 10) : Infinity),
  );
  const maxInFlight = Math.max(1, opts.maxInFlight ?? 3);
  const backoff = { baseMs: opts.retryInitialMs ?? 250, maxMs: opts.retryMaxMs ?? 5000 };
  const bucket = rate > 0 ? new TokenBucket(rate, Math.max(rate, batchSize)) : null;
  const pull = toPuller(source);
  const signal = opts.signal;

  const keys = new KeyBuffers();
  const producer: Producer = kafka.producer({
    createPartitioner: cachingPartitioner,
    allowAutoTopicCreation: false,
    ...opts.producerConfig,
  });
  const startedAt = performance.now();
  let sent = 0, bytes = 0, batches = 0, errors = 0, unsent = 0;
  let waiting: ProduceProgress["retrying"] = null;
  let lastSent = 0, lastAt = startedAt;
  const report = () => {
    const now = performance.now();
    const rateNow = ((sent - lastSent) * 1000) / Math.max(1, now - lastAt);
    lastSent = sent;
    lastAt = now;
    opts.onProgress?.({
      sent,
      errors,
      rate: Math.round(rateNow),
      elapsedMs: now - startedAt,
      retrying: waiting,
    });
  };
  const timer = opts.onProgress ? setInterval(report, opts.progressIntervalMs ?? 2000) : undefined;

  /** Sends one batch until acknowledged; false only when aborted while failing. */
  async function sendWithRetry(messages: Message[]): Promise<boolean> {
    try {
      await retrying(async (i) => {
        // After an outage kafkajs may have marked the producer disconnected: reconnect.
        if (i > 0) await producer.connect().catch(() => {});
        try {
          await producer.send({ topic, messages, acks, compression });
        } catch (err) {
          errors++;
          waiting = { attempt: i + 1, error: (err as Error)?.message ?? String(err) };
          throw err;
        }
        if (i > 0) waiting = null;
      }, { ...backoff, budgetMs: Infinity, retryable: () => true, signal });
      return true;
    } catch {
      return false; // only when aborted: the budget is unbounded
    }
  }

  try {
    await connectWithRetry(producer, signal, (attempt, error) => {
      errors++;
      waiting = { attempt, error };
    });
    waiting = null;
    const inFlight = new Set<Promise<void>>();
    while (!signal?.aborted) {
      const batch = await pull(batchSize);
      if (batch.length === 0) break;
      if (bucket) await bucket.take(batch.length, signal);
      const messages = toKafkaMessages(batch, keys);
      let batchBytes = 0;
      for (const m of messages) {
        batchBytes += (m.key as Buffer | null)?.byteLength ?? 0;
        batchBytes += (m.value as Buffer).byteLength;
      }
      opts.onSend?.(batch, performance.now());
      const p: Promise<void> = sendWithRetry(messages).then((ok) => {
        if (ok) {
          sent += messages.length;
          bytes += batchBytes;
          batches++;
          opts.onBatch?.(sent);
        } else unsent += messages.length;
        inFlight.delete(p);
      });
      inFlight.add(p);
      if (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    clearInterval(timer);
    if (opts.onProgress) report();
    await producer.disconnect().catch(() => {});
  }
  const elapsedMs = performance.now() - startedAt;
  return {
    sent,
    bytes,
    batches,
    errors,
    unsent,
    elapsedMs,
    msgsPerSec: Math.round((sent * 1000) / Math.max(1, elapsedMs)),
    aborted: signal?.aborted ?? false,
  };
}

/** Connects, retrying with backoff while the broker is unreachable (until aborted). */
async function connectWithRetry(
  producer: Producer,
  signal: AbortSignal | undefined,
  onError: (attempt: number, error: string) => void,
): Promise<void> {
  await retrying(async (i) => {
    try {
      await producer.connect();
    } catch (err) {
      onError(i + 1, (err as Error)?.message ?? String(err));
      throw err;
    }
  }, { baseMs: 250, maxMs: 5000, budgetMs: Infinity, retryable: () => true, signal });
}
