/**
 * The ceiling the pipeline is compared with: a bare consumer that only decodes (`JSON.parse` of
 * each value, errors counted) and reads `topic` from the beginning until every partition reached
 * the end offset it had at start. Fetch settings are the pipeline's (`FETCH_SETTINGS` of
 * src/pipeline/sources/kafka.ts), so the ratio isolates what the pipeline adds on top of the client.
 * The client is kafkajs, the product's. (`@platformatic/kafka` was measured here as a candidate
 * replacement until 2026-12-07: 0.72–0.85× kafkajs' rate for more CPU and memory in four
 * sittings, bench/results/peers-2026-12-0*.md; it was then dropped from the dependencies.)
 * Timing starts before connecting, as the pipeline's does. Prints one JSON line on stdout.
 *
 * Run by bench/kafka_bench.ts: `deno run --allow-net --allow-env=KAFKA*,DEBUG,NODE_*
 * bench/bare_consumer.ts <brokers> <topic>`.
 *
 * @module
 */
import { createKafka } from "../src/kafka/client.ts";
import { FETCH_SETTINGS } from "../src/pipeline/sources/kafka.ts";

/** What the bare consumer prints. */
export interface BareConsumerResult {
  records: number;
  parseErrors: number;
  bytes: number;
  seconds: number;
  msgsPerSec: number;
}

/** What the consumer does per message and per partition: decode, count, see the end coming. */
class Tally {
  records = 0;
  parseErrors = 0;
  bytes = 0;
  readonly reached = new Set<number>();
  constructor(readonly ends: Map<number, number>) {
    for (const [p, high] of ends) if (high === 0) this.reached.add(p);
  }
  /** Buffer's own UTF-8 decode, as the first bare figures were measured with. */
  take(v: { byteLength: number; toString(encoding: "utf8"): string } | null | undefined): void {
    if (!v) return;
    this.bytes += v.byteLength;
    try {
      JSON.parse(v.toString("utf8"));
    } catch {
      this.parseErrors++;
    }
    this.records++;
  }
  /** Notes that `partition` was read up to `offset`; true once every partition is at its end. */
  reach(partition: number, offset: number): boolean {
    if (offset + 1 >= (this.ends.get(partition) ?? 0)) this.reached.add(partition);
    return this.done();
  }
  done(): boolean {
    return this.reached.size === this.ends.size;
  }
  result(started: number): BareConsumerResult {
    const seconds = (performance.now() - started) / 1000;
    const { records, parseErrors, bytes } = this;
    return { records, parseErrors, bytes, seconds, msgsPerSec: Math.round(records / seconds) };
  }
}

/** Reads `topic` to its end offsets at start, decoding each value; see the module doc. */
export async function bareConsume(brokers: string[], topic: string): Promise<BareConsumerResult> {
  const started = performance.now();
  const kafka = createKafka({ brokers, clientId: "smarttech-bench-bare" });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<number, number>();
  for (const p of await admin.fetchTopicOffsets(topic)) ends.set(p.partition, Number(p.high));
  await admin.disconnect();
  const consumer = kafka.consumer({
    groupId: `bench-bare-${crypto.randomUUID()}`,
    ...FETCH_SETTINGS,
  });
  const tally = new Tally(ends);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    if (tally.done()) return resolve();
    consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
    consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        for (const m of batch.messages) tally.take(m.value);
        if (tally.reach(batch.partition, Number(batch.lastOffset()))) resolve();
        return Promise.resolve();
      },
    }).catch(reject);
  });
  const result = tally.result(started);
  await consumer.disconnect();
  return result;
}

if (import.meta.main) {
  const [brokers, topic] = Deno.args;
  console.log(JSON.stringify(await bareConsume(brokers.split(","), topic)));
  Deno.exit(0);
}
