/**
 * Smoke tests of the two external systems everything else builds on: a real Kafka broker
 * (through kafkajs under Deno) and DuckDB with the delta extension.
 */
import { testBrokers } from "../src/kafka/test_broker.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { brokerAnswers, createKafka } from "../src/kafka/client.ts";
import { openDuckDB, sqlString } from "../src/duckdb/engine.ts";

const BROKERS = await testBrokers();

Deno.test("kafka: a message produced with kafkajs is consumed back", async () => {
  assert.ok(await brokerAnswers(BROKERS), `no Kafka broker answers at ${BROKERS}`);
  const kafka = createKafka({ brokers: BROKERS, clientId: "smoke-test" });
  const topic = `smoke-${crypto.randomUUID()}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  const value = JSON.stringify({ hello: "lakehouse", at: Date.now() });
  await producer.send({ topic, messages: [{ key: "k1", value }] });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: `smoke-${crypto.randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const received = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no message within 30 s")), 30_000);
    consumer.run({
      eachMessage: ({ message }) => {
        clearTimeout(timer);
        resolve(message.value?.toString() ?? "");
        return Promise.resolve();
      },
    });
  });
  await consumer.disconnect();
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
  assert.equal(received, value);
});

Deno.test("duckdb: the delta extension loads and delta_scan reads a tiny table", async () => {
  const dir = await Deno.makeTempDir({ prefix: "smoke-delta-" });
  const db = await openDuckDB();
  try {
    await Deno.mkdir(join(dir, "_delta_log"));
    const file = "part-0.parquet";
    await db.conn.run(
      `COPY (SELECT i::BIGINT AS id, i * 1.5 AS v FROM range(10) t(i)) TO ${
        sqlString(join(dir, file))
      } (FORMAT parquet)`,
    );
    const size = (await Deno.stat(join(dir, file))).size;
    const schema = {
      type: "struct",
      fields: [
        { name: "id", type: "long", nullable: true, metadata: {} },
        { name: "v", type: "double", nullable: true, metadata: {} },
      ],
    };
    const actions = [
      { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
      {
        metaData: {
          id: crypto.randomUUID(),
          format: { provider: "parquet", options: {} },
          schemaString: JSON.stringify(schema),
          partitionColumns: [],
          configuration: {},
          createdTime: Date.now(),
        },
      },
      {
        add: {
          path: file,
          partitionValues: {},
          size,
          modificationTime: Date.now(),
          dataChange: true,
        },
      },
    ];
    await Deno.writeTextFile(
      join(dir, "_delta_log", "00000000000000000000.json"),
      actions.map((a) => JSON.stringify(a)).join("\n") + "\n",
    );
    const rows = (await db.conn.runAndReadAll(
      `SELECT count(*)::INT AS n, sum(v)::DOUBLE AS s FROM delta_scan(${sqlString(dir)})`,
    )).getRowObjects();
    assert.deepEqual(rows, [{ n: 10, s: 67.5 }]);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
