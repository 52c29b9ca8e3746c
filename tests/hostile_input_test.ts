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

const BROKERS = (await testBrokers()).join(",");

/** One hostile input and what the pipeline must make of it. */
interface HostileCase {
  name: string;
  payload: string | Uint8Array;
  /** "valid" (silver) or the quarantine reason. */
  expect: string;
  /** Silver fields to check for a valid case. */
  silver?: { value?: number; floor?: number; building?: string };
  /** Kafka message key (default: none). */
  key?: string | Uint8Array;
  /**
   * Kafka only: the file source reads a file as records (an array's elements, NDJSON lines),
   * so this payload is not one record there.
   */
  kafkaOnly?: boolean;
}

const enc = new TextEncoder();
const bytes = (...parts: (string | number[])[]) => {
  const chunks = parts.map((p) => typeof p === "string" ? enc.encode(p) : new Uint8Array(p));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let i = 0;
  for (const c of chunks) {
    out.set(c, i);
    i += c.length;
  }
  return out;
};

let nextDevice = 0;
/**
 * A reading as JSON text; every call gets its own device so no two valid cases dedup
 * against each other. `fields` override or add keys (undefined removes one).
 */
function reading(fields: Record<string, unknown> = {}): string {
  const base: Record<string, unknown> = {
    timestamp: "2025-12-15T10:00:00Z",
    device_id: `hx_${String(nextDevice++).padStart(3, "0")}`,
    building: "A",
    floor: 2,
    type: "temperature",
    value: 21.5,
    unit: "C",
  };
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return JSON.stringify(base);
}
/** A reading with raw JSON text spliced in before the closing brace. */
function readingWith(raw: string, fields: Record<string, unknown> = {}): string {
  return reading(fields).slice(0, -1) + "," + raw + "}";
}

function nested(depth: number): string {
  return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

const CASES: HostileCase[] = [
  { name: "a plain valid reading (control)", payload: reading(), expect: "valid" },
  {
    name: "invalid UTF-8: 0xFF 0xFE inside a string",
    payload: bytes('{"device_id":"', [0xff, 0xfe], '","type":"temperature"}'),
    expect: "invalid_utf8",
  },
  {
    name: "invalid UTF-8: truncated multi-byte sequence",
    payload: bytes(reading().slice(0, -1) + ',"note":"', [0xc3], '"}'),
    expect: "invalid_utf8",
  },
  {
    name: "invalid UTF-8: overlong encoding of '/'",
    payload: bytes('{"building":"', [0xc0, 0xaf], '"}'),
    expect: "invalid_utf8",
  },
  {
    name: "invalid UTF-8: an encoded UTF-16 surrogate",
    payload: bytes('{"x":"', [0xed, 0xa0, 0x80], '"}'),
    expect: "invalid_utf8",
  },
  {
    name: "a 2 MB message (over the 1 MiB payload limit)",
    payload: readingWith(`"pad":"${"x".repeat(2 * 1024 * 1024)}"`),
    expect: "too_large",
  },
  {
    name: "deeply nested JSON (100k levels) in an extra field",
    payload: readingWith(`"deep":${nested(100_000)}`),
    expect: "valid",
  },
  {
    name: "deeply nested arrays (100k levels) as the whole payload",
    payload: "[".repeat(100_000) + "]".repeat(100_000),
    expect: "not_an_object",
    kafkaOnly: true,
  },
  {
    name: "NaN literal as value",
    payload: reading({ value: 0 }).replace('"value":0', '"value":NaN'),
    expect: "malformed_json",
  },
  {
    name: "Infinity literal as value",
    payload: reading({ value: 0 }).replace('"value":0', '"value":Infinity'),
    expect: "malformed_json",
  },
  {
    name: "a value overflowing to Infinity (1e999)",
    payload: reading({ value: 0 }).replace('"value":0', '"value":1e999'),
    expect: "out_of_range",
  },
  {
    name: "a value overflowing to -Infinity (-1e999)",
    payload: reading({ value: 0 }).replace('"value":0', '"value":-1e999'),
    expect: "out_of_range",
  },
  { name: "value as a string", payload: reading({ value: "22.5" }), expect: "bad_type:value" },
  { name: "floor as a string", payload: reading({ floor: "2" }), expect: "bad_type:floor" },
  { name: "value null", payload: reading({ value: null }), expect: "missing_field:value" },
  {
    name: "device_id null",
    payload: reading({ device_id: null }),
    expect: "missing_field:device_id",
  },
  { name: "value true", payload: reading({ value: true }), expect: "bad_type:value" },
  {
    name: "timestamp as an object",
    payload: reading({ timestamp: { iso: "2025-12-15T10:00:00Z" } }),
    expect: "bad_type:timestamp",
  },
  {
    name: "extra fields are ignored",
    payload: readingWith('"firmware":"1.2.3","battery":0.93,"tags":["x","y"],"meta":{"k":null}'),
    expect: "valid",
  },
  {
    name: "duplicate keys: the last one wins (valid)",
    payload: reading({ value: 0 }).replace('"value":0', '"value":999,"value":21.5'),
    expect: "valid",
    silver: { value: 21.5 },
  },
  {
    name: "duplicate keys: the last one wins (out of range)",
    payload: reading({ value: 0 }).replace('"value":0', '"value":21.5,"value":999'),
    expect: "out_of_range",
  },
  {
    name: "timestamp in year 1",
    payload: reading({ timestamp: "0001-01-01T00:00:00Z" }),
    expect: "bad_timestamp",
  },
  {
    name: "timestamp in year 9999",
    payload: reading({ timestamp: "9999-12-31T23:59:59Z" }),
    expect: "bad_timestamp",
  },
  {
    name: "a negative floor (basement) is valid",
    payload: reading({ floor: -2 }),
    expect: "valid",
    silver: { floor: -2 },
  },
  {
    name: "a floor below the lowest basement",
    payload: reading({ floor: -11 }),
    expect: "bad_floor",
  },
  { name: "a fractional floor", payload: reading({ floor: 2.5 }), expect: "bad_floor" },
  { name: "a floor of 1e308", payload: reading({ floor: 1e308 }), expect: "bad_floor" },
  {
    name: "building ../../etc",
    payload: reading({ building: "../../etc" }),
    expect: "bad_identifier:building",
  },
  {
    name: "building A/B",
    payload: reading({ building: "A/B" }),
    expect: "bad_identifier:building",
  },
  {
    name: "building %2e%2e",
    payload: reading({ building: "%2e%2e" }),
    expect: "bad_identifier:building",
  },
  {
    name: "building with a backslash path",
    payload: reading({ building: "..\\..\\windows" }),
    expect: "bad_identifier:building",
  },
  { name: "building '.'", payload: reading({ building: "." }), expect: "bad_identifier:building" },
  { name: "type ../../etc", payload: reading({ type: "../../etc" }), expect: "unknown_type" },
  { name: "type A/B", payload: reading({ type: "A/B" }), expect: "unknown_type" },
  { name: "type %2e%2e", payload: reading({ type: "%2e%2e" }), expect: "unknown_type" },
  {
    name: "building with an escaped NUL (\\u0000)",
    payload: reading({ building: "A\u0000B" }),
    expect: "bad_identifier:building",
  },
  {
    name: "a raw NUL byte inside a string",
    payload: bytes(reading().slice(0, -1) + ',"note":"a', [0x00], 'b"}'),
    expect: "malformed_json",
  },
  {
    name: "device_id of 10k characters",
    payload: reading({ device_id: "d".repeat(10_000) }),
    expect: "bad_identifier:device_id",
  },
  {
    name: "building of 10k characters",
    payload: reading({ building: "B".repeat(10_000) }),
    expect: "bad_identifier:building",
  },
  {
    name: "SQL in device_id: '; DROP TABLE silver; --",
    payload: reading({ device_id: "'; DROP TABLE silver; --" }),
    expect: "bad_identifier:device_id",
  },
  {
    name: "SQL in building: A' OR '1'='1",
    payload: reading({ building: "A' OR '1'='1" }),
    expect: "bad_identifier:building",
  },
  {
    name: "SQL in an extra field is just data",
    payload: readingWith(
      `"comment":"'); DELETE FROM bronze; SELECT * FROM read_text('/etc/passwd'); --"`,
    ),
    expect: "valid",
  },
  {
    name: "emoji building",
    payload: reading({ building: "🏢" }),
    expect: "bad_identifier:building",
  },
  {
    name: "emoji in an extra field is kept",
    payload: readingWith('"label":"🌡️ lobby 🔥 ok ✓"'),
    expect: "valid",
  },
  {
    name: "RTL override in device_id",
    payload: reading({ device_id: "\u202edev_001" }),
    expect: "bad_identifier:device_id",
  },
  {
    name: "RTL override and zero-width chars in an extra field",
    payload: readingWith('"name":"\u202egnp.exe\u200b\u2066x\u2069"'),
    expect: "valid",
  },
  {
    name: "a byte order mark before the JSON (ignored, but kept in bronze)",
    payload: "\ufeff" + reading(),
    expect: "valid",
  },
  { name: "a JSON array payload", payload: "[1,2,3]", expect: "not_an_object", kafkaOnly: true },
  { name: "the JSON literal null", payload: "null", expect: "not_an_object" },
  { name: "a bare JSON string", payload: '"hello"', expect: "not_an_object" },
  { name: "an empty payload", payload: "", expect: "malformed_json", kafkaOnly: true },
  {
    name: "__proto__ key (prototype pollution attempt)",
    payload: readingWith('"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}'),
    expect: "valid",
  },
  {
    name: "°F is converted (71.6 °F → 22 °C)",
    payload: reading({ value: 71.6, unit: "°F" }),
    expect: "valid",
    silver: { value: 22 },
  },
  { name: "an unknown unit", payload: reading({ unit: "furlong" }), expect: "bad_unit" },
  {
    name: "type in the wrong case",
    payload: reading({ type: "Temperature" }),
    expect: "unknown_type",
  },
  {
    name: "epoch-seconds timestamp",
    payload: reading({ timestamp: 1765792800 }),
    expect: "valid",
  },
  {
    name: "a message key that is not UTF-8",
    payload: reading(),
    key: bytes("dev", [0xff, 0x00, 0xfe]),
    expect: "valid",
    kafkaOnly: true,
  },
  {
    name: "control characters and escapes in an extra field",
    payload: readingWith('"ctl":"\\u0001\\u001b[31m\\r\\n\\t\\\\\\"end"'),
    expect: "valid",
  },
  {
    name: "lone UTF-16 surrogate escape in an extra field",
    payload: readingWith('"s":"\\ud800"'),
    expect: "valid",
  },
  {
    name: "device_id with spaces",
    payload: reading({ device_id: "dev 001" }),
    expect: "bad_identifier:device_id",
  },
];

// Every valid case must be distinct (its own device), or it would be deduplicated.
for (const c of CASES) {
  if (c.expect === "valid" && typeof c.payload === "string" && !c.payload.includes('"hx_')) {
    throw new Error(`valid case without its own device: ${c.name}`);
  }
}

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
