/**
 * Hostile input through the real broker and the real `consume` task (one topic holding every
 * case, one consume run, then one test per case by offset) and through the real `ingest-files`
 * task (one file per case). For each case: no task crashes; the input lands in silver if it
 * is a valid reading, else in quarantine with the expected reason; bronze keeps it (the payload
 * byte for byte, or as base64 when it is not UTF-8); and nothing is written outside the
 * lakehouse — in particular no partition directory derived from a hostile building or type.
 */
import { testBrokers } from "../src/kafka/test_broker.ts";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Partitioners } from "kafkajs";
import { join, relative, resolve, sep } from "node:path";
import { createKafka } from "../src/kafka/client.ts";
import { ensureTopic } from "../src/kafka/producer.ts";
import { openDuckDB, sqlString } from "../src/duckdb/engine.ts";
import { consumeArgs, runTask, type TaskResult } from "./helpers/tasks.ts";
import { HOSTILE_CASES as CASES, type HostileCase } from "../src/reading/hostile_cases.ts";

const BROKERS = (await testBrokers()).join(",");

const b64 = (b: Uint8Array) => {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
};
const isUtf8 = (b: Uint8Array) => {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
};
const enc = new TextEncoder();
const payloadBytes = (p: string | Uint8Array) => typeof p === "string" ? enc.encode(p) : p;

/** What the tables hold for one input, found by its source coordinate. */
interface Landed {
  bronze: Record<string, unknown>[];
  silver: Record<string, unknown>[];
  quarantine: Record<string, unknown>[];
}

interface RunOutcome {
  task: TaskResult;
  landed: (index: number) => Landed;
  /** Files created outside the lakehouse (must be none). */
  strays: string[];
  /** Directories inside the tables that are neither the log nor escaped partitions. */
  badDirs: string[];
}

async function rowsOf(
  lakehouse: string,
  table: string,
  columns: string,
): Promise<Record<string, unknown>[]> {
  const db = await openDuckDB();
  try {
    const r = await db.conn.runAndReadAll(
      `SELECT ${columns} FROM delta_scan(${sqlString(join(lakehouse, table))})`,
    );
    return r.getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

async function walk(dir: string, out: string[] = []): Promise<string[]> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory) await walk(p, out);
  }
  return out;
}

/** Every path under `parent` must be under one of `allowed`; table dirs must be well-formed. */
async function audit(parent: string, lakehouse: string, allowed: string[]) {
  const strays: string[] = [];
  const badDirs: string[] = [];
  for (const p of await walk(parent)) {
    const abs = resolve(p);
    if (!allowed.some((a) => abs === a || abs.startsWith(a + sep))) strays.push(abs);
  }
  for (const table of ["bronze", "silver", "quarantine"]) {
    const root = join(lakehouse, table);
    for (const p of await walk(root)) {
      const rel = relative(root, p).split(sep);
      if (rel[0] === "_delta_log") continue;
      const info = await Deno.lstat(p);
      if (info.isSymlink) badDirs.push(p);
      if (!info.isDirectory) continue;
      const name = rel.at(-1)!;
      const col = rel.length === 1 ? "building" : "type";
      if (rel.length > 2 || !/^[a-z]+=[A-Za-z0-9_.%-]+$/.test(name) || !name.startsWith(col)) {
        badDirs.push(p);
      }
    }
  }
  return { strays, badDirs };
}

const KAFKA_COLUMNS = {
  bronze:
    "kafka_offset AS k, payload, encode(payload) AS bytes, payload_base64, status, building, type, kafka_key",
  silver:
    "CAST(split_part(source, ':', 4) AS BIGINT) AS k, device_id, value, floor, building, type",
  quarantine: "kafka_offset AS k, reason, detail, payload, payload_base64, building, type",
};
const FILE_COLUMNS = {
  bronze:
    "file AS k, payload, encode(payload) AS bytes, payload_base64, status, building, type, kafka_key",
  silver: "split_part(source, ':', 2) AS k, device_id, value, floor, building, type",
  quarantine: "file AS k, reason, detail, payload, payload_base64, building, type",
};

function indexRows(rows: Record<string, unknown>[]): Map<string, Record<string, unknown>[]> {
  const m = new Map<string, Record<string, unknown>[]>();
  for (const r of rows) {
    const k = String(r.k);
    m.set(k, [...(m.get(k) ?? []), r]);
  }
  return m;
}

async function collect(
  lakehouse: string,
  columns: typeof KAFKA_COLUMNS,
  keyOf: (index: number) => string,
) {
  const tables = {} as Record<keyof Landed, Map<string, Record<string, unknown>[]>>;
  for (const t of ["bronze", "silver", "quarantine"] as const) {
    tables[t] = indexRows(await rowsOf(lakehouse, t, columns[t]));
  }
  return (i: number): Landed => ({
    bronze: tables.bronze.get(keyOf(i)) ?? [],
    silver: tables.silver.get(keyOf(i)) ?? [],
    quarantine: tables.quarantine.get(keyOf(i)) ?? [],
  });
}

/** Temp dirs of the two runs, removed by the last test. */
const tempDirs: string[] = [];

/** The Kafka run: all cases on a one-partition topic (offset = case index), one consume. */
const kafkaCases = CASES;
let kafkaRun: Promise<RunOutcome> | null = null;
function kafkaOutcome(): Promise<RunOutcome> {
  kafkaRun ??= (async () => {
    const parent = await Deno.makeTempDir({ prefix: "hostile-kafka-" });
    tempDirs.push(parent);
    const lakehouse = join(parent, "lakehouse");
    const topic = `hostile-${crypto.randomUUID().slice(0, 8)}`;
    const kafka = createKafka({ brokers: [BROKERS], clientId: "hostile-test" });
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopic(admin, topic, 1);
    await admin.disconnect();
    // One request, one partition: offset = case index. Bytes travel as Buffers (kafkajs
    // would stringify a plain Uint8Array).
    const toBuffer = (v: string | Uint8Array) => typeof v === "string" ? v : Buffer.from(v);
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: kafkaCases.map((c) => ({
        key: c.key === undefined ? null : toBuffer(c.key),
        value: toBuffer(c.payload),
      })),
    });
    await producer.disconnect();
    const task = await runTask(
      "consume",
      consumeArgs({ brokers: BROKERS, topic, lakehouse, group: `g-${topic}`, untilCaughtUp: true }),
    );
    const landed = await collect(lakehouse, KAFKA_COLUMNS, (i) => String(i));
    const { strays, badDirs } = await audit(parent, lakehouse, [resolve(lakehouse)]);
    return { task, landed, strays, badDirs };
  })();
  return kafkaRun;
}

/** The file run: one `.ndjson` file per case, one ingest-files pass. */
const fileCases = CASES.map((c, i) => ({ c, i })).filter(({ c }) => !c.kafkaOnly);
const fileName = (i: number) => `case_${String(i).padStart(3, "0")}.ndjson`;
let fileRun: Promise<RunOutcome> | null = null;
function fileOutcome(): Promise<RunOutcome> {
  fileRun ??= (async () => {
    const parent = await Deno.makeTempDir({ prefix: "hostile-files-" });
    tempDirs.push(parent);
    const lakehouse = join(parent, "lakehouse");
    const input = join(parent, "input");
    await Deno.mkdir(input);
    const past = new Date(Date.now() - 60_000);
    for (const { c, i } of fileCases) {
      const path = join(input, fileName(i));
      await Deno.writeFile(path, payloadBytes(c.payload));
      // Settled: one-shot ingestion skips files younger than a second (still being copied).
      await Deno.utime(path, past, past);
    }
    const task = await runTask("ingest-files", ["--dir", input, "--lakehouse", lakehouse]);
    const landed = await collect(lakehouse, FILE_COLUMNS, fileName);
    const { strays, badDirs } = await audit(parent, lakehouse, [
      resolve(lakehouse),
      resolve(input),
    ]);
    return { task, landed, strays, badDirs };
  })();
  return fileRun;
}

function assertLanded(c: HostileCase, l: Landed) {
  const raw = payloadBytes(c.payload);
  assert.equal(l.bronze.length, 1, "bronze keeps it exactly once");
  const b = l.bronze[0];
  if (isUtf8(raw)) {
    // Compared as bytes: JS string conversion (ours and DuckDB's) drops a leading BOM.
    assert.deepEqual(
      new Uint8Array(b.bytes as Uint8Array),
      raw,
      "bronze payload preserved exactly",
    );
    assert.equal(b.payload_base64, null);
  } else {
    assert.equal(b.payload_base64, b64(raw), "bronze keeps non-UTF-8 bytes as base64");
  }
  for (const col of ["building", "type"]) {
    const v = b[col];
    assert.ok(v === null || /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(String(v)), `${col}=${v}`);
  }
  if (c.expect === "valid") {
    assert.equal(b.status, "valid");
    assert.equal(l.silver.length, 1, "valid: in silver once");
    assert.equal(l.quarantine.length, 0, "valid: not in quarantine");
    const s = l.silver[0];
    if (c.silver?.value !== undefined) assert.equal(s.value, c.silver.value);
    if (c.silver?.floor !== undefined) assert.equal(s.floor, c.silver.floor);
  } else {
    assert.equal(b.status, "rejected");
    assert.equal(l.silver.length, 0, "rejected: not in silver");
    assert.equal(l.quarantine.length, 1, "rejected: in quarantine once");
    const q = l.quarantine[0];
    assert.equal(q.reason, c.expect);
    assert.ok(typeof q.detail === "string" && q.detail.length > 0 && q.detail.length < 400);
    assert.equal(q.payload, b.payload, "quarantine keeps the payload too");
    assert.equal(q.payload_base64, b.payload_base64);
  }
}

Deno.test("hostile kafka: the consume task survives every case and exits 0", async () => {
  const r = await kafkaOutcome();
  assert.equal(r.task.code, 0, r.task.stderr);
  assert.deepEqual(r.strays, [], "nothing written outside the lakehouse");
  assert.deepEqual(r.badDirs, [], "only escaped partition directories inside the tables");
});

kafkaCases.forEach((c, i) => {
  Deno.test(`hostile kafka #${i}: ${c.name} → ${c.expect}`, async () => {
    assertLanded(c, (await kafkaOutcome()).landed(i));
  });
});

Deno.test("hostile files: the ingest-files task survives every case and exits 0", async () => {
  const r = await fileOutcome();
  assert.equal(r.task.code, 0, r.task.stderr);
  assert.deepEqual(r.strays, [], "nothing written outside the lakehouse and the input dir");
  assert.deepEqual(r.badDirs, [], "only escaped partition directories inside the tables");
});

fileCases.forEach(({ c, i }) => {
  Deno.test(`hostile files #${i}: ${c.name} → ${c.expect}`, async () => {
    assertLanded(c, (await fileOutcome()).landed(i));
  });
});

Deno.test("hostile: remove the runs' temp dirs", async () => {
  for (const dir of tempDirs) await Deno.remove(dir, { recursive: true });
});
