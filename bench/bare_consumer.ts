/**
 * The ceiling the pipeline is compared with: a bare kafkajs consumer that only decodes
 * (`JSON.parse` of each value, errors counted) and reads `topic` from the beginning until every
 * partition reached the end offset it had at start. Fetch settings are the pipeline's
 * (`FETCH_SETTINGS` of src/kafka/consumer.ts), so the ratio isolates what the pipeline adds on
 * top of the client.
 * Timing starts before connecting, as the pipeline's does. Prints one JSON line on stdout.
 *
 * Run by bench/kafka_bench.ts: `deno run --allow-net --allow-env=KAFKA*,DEBUG,NODE_*
 * bench/bare_consumer.ts <brokers> <topic>`.
 *
 * @module
 */
import { createKafka } from "../src/kafka/client.ts";
import { FETCH_SETTINGS } from "../src/kafka/consumer.ts";

/** What the bare consumer prints. */
export interface BareConsumerResult {
  records: number;
  parseErrors: number;
  bytes: number;
  seconds: number;
  msgsPerSec: number;
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
  let records = 0, parseErrors = 0, bytes = 0;
  const reached = new Set<number>();
  for (const [p, high] of ends) if (high === 0) reached.add(p);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    if (reached.size === ends.size) return resolve();
    consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
    consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        for (const m of batch.messages) {
          const v = m.value;
          if (!v) continue;
          bytes += v.byteLength;
          try {
            JSON.parse(v.toString("utf8"));
          } catch {
            parseErrors++;
          }
          records++;
        }
        const last = Number(batch.lastOffset());
        if (last + 1 >= (ends.get(batch.partition) ?? 0)) reached.add(batch.partition);
        if (reached.size === ends.size) resolve();
        return Promise.resolve();
      },
    }).catch(reject);
  });
  const seconds = (performance.now() - started) / 1000;
  await consumer.disconnect();
  return { records, parseErrors, bytes, seconds, msgsPerSec: Math.round(records / seconds) };
}

if (import.meta.main) {
  const [brokers, topic] = Deno.args;
  console.log(JSON.stringify(await bareConsume(brokers.split(","), topic)));
  Deno.exit(0);
}
