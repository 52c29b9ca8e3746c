/**
 * Seeded input mixes with independently known outcomes, for exact-count assertions: the
 * expected numbers come from how the mix was built, not from the code under test.
 */
import { type Kafka, logLevel, Partitioners } from "kafkajs";
import { createKafka } from "../kafka/client.ts";
import { openDuckDB, sqlString } from "../duckdb/engine.ts";
import { enableLocation } from "../duckdb/s3.ts";
import { listLog } from "../delta/log.ts";

export interface Mix {
  messages: { key: string; value: string }[];
  /** Distinct valid readings: what silver must hold. */
  valid: number;
  /** Exact resends of valid readings: bronze status 'duplicate'. */
  duplicates: number;
  /** Rejects by reason: what quarantine must hold. */
  rejects: Record<string, number>;
}

const TYPES = [
  ["temperature", "C", 21.5],
  ["humidity", "%", 45],
  ["co2", "ppm", 650],
  ["energy", "kWh", 1.25],
] as const;

/**
 * `n` base readings from `devices` devices (1 s apart per device) plus faults: every 50th is
 * re-sent, every 41st replaced by malformed JSON, every 43rd misses `value`, every 47th is out
 * of range, every 53rd has an unknown type, every 7th valid temperature comes in °F.
 */
export function makeMix(n: number, devices = 40, start = Date.UTC(2025, 11, 15, 8)): Mix {
  const mix: Mix = { messages: [], valid: 0, duplicates: 0, rejects: {} };
  const reject = (reason: string) => (mix.rejects[reason] = (mix.rejects[reason] ?? 0) + 1);
  for (let i = 0; i < n; i++) {
    const d = i % devices;
    const [type, unit, base] = TYPES[d % 4];
    const deviceId = `dev_${String(d).padStart(3, "0")}`;
    const reading: Record<string, unknown> = {
      timestamp: new Date(start + Math.floor(i / devices) * 1000).toISOString(),
      device_id: deviceId,
      building: ["A", "B", "C"][d % 3],
      floor: d % 5,
      type,
      value: base + (i % 10) / 10,
      unit,
    };
    let value: string;
    if (i % 41 === 0) {
      value = `{"device_id":"${deviceId}","broken":`;
      reject("malformed_json");
    } else if (i % 43 === 0) {
      delete reading.value;
      value = JSON.stringify(reading);
      reject("missing_field:value");
    } else if (i % 47 === 0) {
      reading.value = type === "co2"
        ? 99_999
        : type === "humidity"
        ? 150
        : type === "energy"
        ? -5
        : 500;
      value = JSON.stringify(reading);
      reject("out_of_range");
    } else if (i % 53 === 0) {
      reading.type = "radiation";
      value = JSON.stringify(reading);
      reject("unknown_type");
    } else {
      if (type === "temperature" && i % 7 === 0) {
        reading.unit = "F";
        reading.value = (reading.value as number) * 9 / 5 + 32;
      }
      value = JSON.stringify(reading);
      mix.valid++;
      if (i % 50 === 0) {
        mix.messages.push({ key: deviceId, value });
        mix.duplicates++;
      }
    }
    mix.messages.push({ key: deviceId, value });
  }
  return mix;
}

export function totalRejects(mix: Mix): number {
  return Object.values(mix.rejects).reduce((a, b) => a + b, 0);
}

/** Creates `topic` with `partitions` and produces the mix's messages in order. */
export async function produceMix(
  brokers: string[],
  topic: string,
  mix: Mix,
  partitions = 3,
): Promise<void> {
  // Errors only: kafkajs warns that an idempotent producer with bounded retries "may
  // invalidate EoS" — a send that runs out of retries throws here, which is what a fixture wants.
  const kafka = createKafka({ brokers, clientId: "test-fixtures", logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions }],
    waitForLeaders: true,
  });
  await admin.disconnect();
  // The default partitioner, named so kafkajs does not warn about its v2 default change.
  // Idempotent: a batch re-sent after a timeout (a loaded host) must not land twice, or the
  // topic would hold more than the mix and every exact count would be off.
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  for (let i = 0; i < mix.messages.length; i += 10_000) {
    await producer.send({ topic, messages: mix.messages.slice(i, i + 10_000), acks: -1 });
  }
  await producer.disconnect();
}

export interface TableCounts {
  bronze: number;
  bronzeDistinctCoords: number;
  bronzeDuplicates: number;
  silver: number;
  silverDistinctKeys: number;
  quarantine: number;
  quarantineDistinctCoords: number;
  reasons: Record<string, number>;
}

/** Counts through DuckDB's delta_scan: what an outside reader sees. */
export async function tableCounts(lakehouse: string): Promise<TableCounts> {
  const db = await openDuckDB();
  try {
    await enableLocation(db.conn, lakehouse);
    const t = (name: string) => `delta_scan(${sqlString(`${lakehouse}/${name}`)})`;
    const row = async (sql: string) =>
      (await db.conn.runAndReadAll(sql)).getRows()[0].map((v) => Number(v));
    const reasons: Record<string, number> = {};
    for (
      const [r, n] of (await db.conn.runAndReadAll(
        `SELECT reason, count(*) FROM ${t("quarantine")} GROUP BY reason`,
      )).getRows()
    ) reasons[String(r)] = Number(n);
    const coords = "coalesce(topic, file), coalesce(kafka_partition, -1), kafka_offset";
    // One scan per table: on s3:// each delta_scan reads the log and the files again.
    const [bronze, bronzeDistinctCoords, bronzeDuplicates] = await row(
      `SELECT count(*), count(DISTINCT (${coords})), count(*) FILTER (status = 'duplicate')
       FROM ${t("bronze")}`,
    );
    const [silver, silverDistinctKeys] = await row(
      `SELECT count(*), count(DISTINCT (device_id, type, timestamp)) FROM ${t("silver")}`,
    );
    const [quarantine, quarantineDistinctCoords] = await row(
      `SELECT count(*), count(DISTINCT (${coords})) FROM ${t("quarantine")}`,
    );
    return {
      bronze,
      bronzeDistinctCoords,
      bronzeDuplicates,
      silver,
      silverDistinctKeys,
      quarantine,
      quarantineDistinctCoords,
      reasons,
    };
  } finally {
    db.close();
  }
}

/** A message read back from a topic, with the partition it sat in. */
export interface ReadMessage {
  key: string;
  value: string;
  partition: number;
}

/**
 * Reads `count` messages of `topic` from the beginning with a fresh consumer group (rejects
 * after `timeoutMs` with how many arrived), then disconnects.
 */
export async function readMessages(
  kafka: Kafka,
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<ReadMessage[]> {
  const consumer = kafka.consumer({ groupId: `read-${topic}-${crypto.randomUUID()}` });
  const got: ReadMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${got.length}/${count} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer.run({
        eachBatch: ({ batch }) => {
          for (const m of batch.messages) {
            got.push({
              key: m.key?.toString() ?? "",
              value: m.value?.toString() ?? "",
              partition: batch.partition,
            });
          }
          if (got.length >= count) {
            clearTimeout(timer);
            resolve();
          }
          return Promise.resolve();
        },
      }).catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

/** The latest committed version of `lakehouse`'s bronze table (-1 before its first commit). */
export async function bronzeVersion(lakehouse: string): Promise<number> {
  // Through the storage seam: the lakehouse may be on s3://.
  const { commits } = await listLog(`${lakehouse}/bronze`).catch(() => ({ commits: [] }));
  return commits.at(-1) ?? -1;
}
