import assert from "node:assert/strict";
import { testBrokers } from "./test_broker.ts";
import { readMessages } from "../chaos/mix.ts";
import { brokerAnswers, createKafka } from "./client.ts";
import { Buffer } from "node:buffer";
import { Partitioners, type PartitionMetadata } from "kafkajs";
import {
  cachingPartitioner,
  ensureTopic,
  KeyBuffers,
  produce,
  type ProduceProgress,
  toKafkaMessages,
  TokenBucket,
} from "./producer.ts";
import { createSimulator } from "../simulator/simulator.ts";

const BROKERS = await testBrokers();

Deno.test("TokenBucket: paces takes to the rate, keeps at most `capacity` saved", async () => {
  let now = 0;
  const b = new TokenBucket(1000, 1000, () => now);
  const t0 = performance.now();
  await b.take(50); // 50 tokens of debt at 1000/s: ~50 ms
  assert.ok(performance.now() - t0 >= 40);
  now = 10_000; // long idle: only 1 s worth is saved
  const t1 = performance.now();
  await b.take(900);
  assert.ok(performance.now() - t1 < 30, "900 ≤ saved tokens: no wait");
});

Deno.test("cachingPartitioner: the default partitioner's choice, remembered per key and count", () => {
  const meta = (n: number): PartitionMetadata[] =>
    Array.from({ length: n }, (_, i) => ({
      partitionErrorCode: 0,
      partitionId: i,
      leader: 0,
      replicas: [0],
      isr: [0],
    }));
  const cached = cachingPartitioner();
  const reference = Partitioners.DefaultPartitioner();
  const keys = new KeyBuffers();
  for (const n of [3, 7, 3]) { // a count change must not reuse the old choice
    for (let i = 0; i < 2000; i++) {
      const key = `B${i % 7}-F${i % 13}-co2-${i}`;
      const args = {
        topic: "t",
        partitionMetadata: meta(n),
        message: { key: keys.get(key), value: "v" },
      };
      const fresh = { ...args, message: { key: Buffer.from(key), value: "v" } };
      assert.equal(cached(args), reference(fresh), `${key} over ${n} partitions`);
      assert.equal(cached(args), reference(fresh), "second time, from the cache");
    }
  }
  assert.equal(keys.get("A-F0-co2-01"), keys.get("A-F0-co2-01"), "one Buffer per key");
  // Explicit partitions are honoured; keyless messages still spread over the partitions.
  const m = meta(3);
  assert.equal(
    cached({ topic: "t", partitionMetadata: m, message: { key: null, value: "v", partition: 2 } }),
    2,
  );
  const spread = new Set(
    Array.from(
      { length: 30 },
      () => cached({ topic: "t", partitionMetadata: m, message: { key: null, value: "v" } }),
    ),
  );
  assert.equal(spread.size, 3);
});

Deno.test({
  name: "produce: simulated readings reach the real broker and read back intact",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    if (!(await brokerAnswers(BROKERS))) {
      console.warn(
        `SKIPPED: no Kafka broker answers at ${BROKERS} (start one: deno task kafka:up)`,
      );
      return;
    }
    const kafka = createKafka({ brokers: BROKERS, clientId: "producer-test" });
    const topic = `produce-test-${crypto.randomUUID()}`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      assert.deepEqual(await ensureTopic(admin, topic, 2), { created: true, partitions: 2 });
      assert.deepEqual(await ensureTopic(admin, topic, 2), { created: false, partitions: 2 });
      await assert.rejects(() => ensureTopic(admin, topic, 4), /fewer than the 4/);

      const sim = createSimulator({
        seed: 11,
        start: Date.UTC(2025, 11, 15, 10),
        count: 300,
        faults: "data",
        topology: { buildings: 2, floors: 2 },
      });
      const expected = createSimulator({
        seed: 11,
        start: Date.UTC(2025, 11, 15, 10),
        count: 300,
        faults: "data",
        topology: { buildings: 2, floors: 2 },
      }).nextBatch(1000);
      const progress: ProduceProgress[] = [];
      const started = performance.now();
      const r = await produce(kafka, topic, sim, {
        batchSize: 64,
        rate: 2000,
        onProgress: (p) => progress.push(p),
        progressIntervalMs: 50,
      });
      const elapsed = performance.now() - started;
      assert.equal(r.sent, 300);
      assert.equal(r.unsent, 0);
      assert.ok(r.batches >= 300 / 64);
      assert.ok(elapsed >= 100, `rate 2000/s for 300 messages took only ${elapsed} ms`);
      assert.equal(progress.at(-1)?.sent, 300);

      const offsets = await admin.fetchTopicOffsets(topic);
      assert.equal(offsets.reduce((s, o) => s + Number(o.high), 0), 300);

      const got = await readMessages(kafka, topic, 300);
      assert.deepEqual(
        got.map((m) => `${m.key}\n${m.value}`).sort(),
        expected.map((m) => `${m.key}\n${m.value}`).sort(),
      );
      // Keyed by device: all of a device's readings sit in one partition.
      const partOf = new Map<string, number>();
      for (const m of got) {
        assert.equal(partOf.get(m.key) ?? m.partition, m.partition, m.key);
        partOf.set(m.key, m.partition);
      }
      assert.equal(new Set(partOf.values()).size, 2, "keys spread over both partitions");
    } finally {
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
  },
});

Deno.test({
  name: "produce: an unreachable broker is retried, not fatal, and abort ends the wait",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // Port 9 (discard) on loopback: nothing listens, so every attempt fails fast.
    const kafka = createKafka({ brokers: ["127.0.0.1:9"], clientId: "producer-test", retries: 0 });
    const ac = new AbortController();
    const progress: ProduceProgress[] = [];
    setTimeout(() => ac.abort(), 1500);
    const r = await produce(kafka, "nowhere", [{ key: "k", value: "v" }], {
      signal: ac.signal,
      retryInitialMs: 50,
      onProgress: (p) => progress.push(p),
      progressIntervalMs: 200,
    }).catch((e: Error) => e);
    // Aborted while still connecting: it gives up with the connection error, after retrying.
    assert.ok(r instanceof Error, "aborted before any broker answered");
    assert.ok(progress.some((p) => p.retrying !== null && p.retrying.attempt >= 2));
  },
});

Deno.test("toKafkaMessages: values encoded into one arena round-trip, whatever their script or size", () => {
  const values = [
    '{"a":1}',
    "é€😀 ünïcødé",
    "",
    "x".repeat(5000) + "😀".repeat(3000),
    "tail",
  ];
  const batch = [
    ...values.map((value, i) => ({ key: i % 2 ? null : `k${i}`, value })),
    { key: "bytes", value: new Uint8Array([1, 2, 3]) },
  ];
  const out = toKafkaMessages(batch, new KeyBuffers());
  const dec = new TextDecoder();
  values.forEach((v, i) => {
    assert.equal(dec.decode(out[i].value as Uint8Array), v);
    assert.equal(out[i].key === null ? null : dec.decode(out[i].key as Uint8Array), batch[i].key);
  });
  assert.deepEqual([...(out.at(-1)!.value as Uint8Array)], [1, 2, 3]);
});
