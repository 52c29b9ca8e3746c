import assert from "node:assert/strict";
import { testBrokers } from "../kafka/test_broker.ts";
import { readMessages } from "../chaos/mix.ts";
import { join } from "node:path";
import { Partitioners } from "kafkajs";
import { brokerAnswers, createKafka } from "../kafka/client.ts";
import { runSimulation } from "./run.ts";
import { createSimulator, type SimulatorOptions } from "./simulator.ts";
import { workerOfKey } from "./workers.ts";

const BROKERS = await testBrokers();
const SIM: SimulatorOptions = {
  seed: 5,
  start: Date.UTC(2025, 11, 15, 9),
  count: 3000,
  faults: "chaos",
  topology: { buildings: 2, floors: 2, devicesPerFloor: 2 },
};

Deno.test("workerOfKey: slices are disjoint, cover the stream and keep each key on one worker", () => {
  const stream = createSimulator(SIM).nextBatch(10_000);
  for (const workers of [1, 2, 3]) {
    const slices: string[][] = Array.from({ length: workers }, () => []);
    const owner = new Map<string, number>();
    stream.forEach((m, i) => {
      const w = workerOfKey(m.key, i, workers);
      assert.ok(w >= 0 && w < workers);
      assert.equal(owner.get(m.key) ?? w, w, `${m.key} moved between workers`);
      owner.set(m.key, w);
      slices[w].push(`${m.key}\n${m.value}`);
    });
    assert.equal(slices.reduce((n, s) => n + s.length, 0), stream.length);
    if (workers > 1) assert.ok(slices.every((s) => s.length > stream.length / workers / 2));
  }
  assert.equal(workerOfKey(null, 7, 3), 1, "keyless messages go round-robin by index");
});

Deno.test({
  name: "produce --workers: the same messages as one producer, same partitions, per-key order",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    if (!(await brokerAnswers(BROKERS))) {
      console.warn(`SKIPPED: no Kafka broker answers at ${BROKERS} (deno task kafka:up)`);
      return;
    }
    const client = { brokers: BROKERS, clientId: "sim-workers-test" };
    const kafka = createKafka(client);
    const topic = `sim-workers-test-${crypto.randomUUID()}`;
    const dir = await Deno.makeTempDir({ prefix: "sim-workers-" });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const summary = await runSimulation({
        sim: SIM,
        sink: {
          kind: "kafka",
          kafka,
          client,
          topic,
          partitions: 3,
          produce: { batchSize: 200, maxInFlight: 1 },
        },
        rate: 0,
        workers: 2,
        truthPath: join(dir, "truth.ndjson"),
      });
      const expected = createSimulator(SIM);
      const stream = expected.nextBatch(100_000);
      assert.equal(summary.workers, 2);
      assert.equal(summary.sent, stream.length);
      assert.equal(summary.unsent, 0);
      assert.deepEqual(summary.simulated.dataFaults, expected.stats().dataFaults);
      assert.equal(summary.simulated.messages, stream.length);
      const truth = (await Deno.readTextFile(join(dir, "truth.ndjson"))).trim().split("\n");
      const wantTruth = [...expected.takeEpisodes(), ...expected.finish()];
      assert.equal(truth.filter(Boolean).length, wantTruth.length);

      const got = await readMessages(kafka, topic, stream.length);
      // Same messages overall (a multiset: the chaos profile resends duplicates).
      assert.deepEqual(
        got.map((m) => `${m.key}\n${m.value}`).sort(),
        stream.map((m) => `${m.key}\n${m.value}`).sort(),
      );
      // key → partition exactly as kafkajs' default partitioner (one producer) puts it.
      const partitioner = Partitioners.DefaultPartitioner();
      const meta = [0, 1, 2].map((p) => ({
        partitionId: p,
        leader: 1,
        replicas: [1],
        isr: [1],
        partitionErrorCode: 0,
        offlineReplicas: [],
      }));
      for (const m of got) {
        assert.equal(
          m.partition,
          partitioner({ topic, partitionMetadata: meta, message: { key: m.key, value: m.value } }),
        );
      }
      // Each key's messages arrive in stream order (maxInFlight 1: kafkajs may reorder requests
      // in flight together, with one producer as with several).
      const perKey = (list: { key: string; value: string }[]) => {
        const out = new Map<string, string[]>();
        for (const m of list) out.set(m.key, [...(out.get(m.key) ?? []), m.value]);
        return out;
      };
      const want = perKey(stream);
      for (const [key, values] of perKey(got)) {
        const w = want.get(key)!;
        const i = values.findIndex((v, j) => v !== w[j]);
        assert.equal(i, -1, `${key} at ${i}: got ${values[i]}, want ${w[i]}`);
      }
    } finally {
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
