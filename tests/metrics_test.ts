/**
 * The metrics endpoints as an operator uses them: `consume --metrics-port` over a topic produced
 * with faults, scraped; its counters must agree with the tables (silver rows, quarantine rows by
 * reason, duplicates) and /healthz must say ok; `gold --watch --metrics-port`, started before
 * the tables exist, waits for them, then refreshes; SIGTERM ends both with exit 0; a consume
 * whose broker does not answer reports 503 with the reason.
 */
import assert from "node:assert/strict";
import { testBrokers } from "../src/kafka/test_broker.ts";
import { tableCounts } from "../src/chaos/mix.ts";
import { consumeArgs, freePort, runTask, spawnTask } from "./helpers/tasks.ts";

const BROKERS = (await testBrokers()).join(",");
const MESSAGES = 4000;

/** Samples of a Prometheus text exposition: `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

async function health(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: res.status, body: await res.json() };
}

/** Polls `f` every 200 ms until it returns a value, or fails after `ms`. */
async function until<T>(what: string, ms: number, f: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v !== null) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last})` : ""}`);
}

/** SIGTERM, then the exit code and output. */
async function terminate(
  child: Deno.ChildProcess,
): Promise<{ code: number; stdout: string; stderr: string }> {
  child.kill("SIGTERM");
  const out = await child.output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("metrics: consume's counters agree with the tables; gold --watch waits for them; SIGTERM exits 0", async () => {
  const topic = `metrics-${crypto.randomUUID().slice(0, 8)}`;
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-metrics-" });
  const produced = await runTask("produce", [
    "--brokers",
    BROKERS,
    "--topic",
    topic,
    "--count",
    String(MESSAGES),
    "--rate",
    "0",
    "--faults",
    "light",
    "--seed",
    "11",
    "--start",
    "2026-12-01T00:00:00Z",
  ]);
  assert.equal(produced.code, 0, produced.stderr);

  // gold first, on a lakehouse without tables: it must wait, not exit.
  const goldPort = freePort();
  const gold = spawnTask("gold", [
    "--watch",
    "--interval",
    "0.5",
    "--lakehouse",
    lakehouse,
    "--metrics-port",
    String(goldPort),
  ]);
  const waiting = await until("gold's /healthz", 15_000, () => health(goldPort));
  assert.equal(waiting.status, 200);
  assert.match(String(waiting.body.phase), /^waiting for the silver table/);

  const port = freePort();
  const consume = spawnTask(
    "consume",
    consumeArgs({ brokers: BROKERS, topic, lakehouse, group: `g-${topic}` }, [
      "--metrics-port",
      String(port),
    ]),
  );
  try {
    const m = await until("every message counted, no lag", 30_000, async () => {
      const m = await scrape(port);
      const outcome = (o: string) => m.get(`smarttech_consume_records_total{outcome="${o}"}`) ?? 0;
      const counted = outcome("silver") + outcome("quarantine") + outcome("duplicate");
      const lags = [...m].filter(([k]) => k.startsWith("smarttech_consume_lag{"));
      return counted === MESSAGES && lags.length === 3 && lags.every(([, v]) => v === 0) ? m : null;
    });
    const c = await tableCounts(lakehouse);
    assert.equal(c.bronze, MESSAGES);
    assert.equal(m.get('smarttech_consume_records_total{outcome="silver"}'), c.silver);
    assert.equal(m.get('smarttech_consume_records_total{outcome="quarantine"}'), c.quarantine);
    assert.equal(m.get('smarttech_consume_records_total{outcome="duplicate"}'), c.bronzeDuplicates);
    assert.ok(c.quarantine > 0 && c.bronzeDuplicates > 0, "the faults made rejects and duplicates");
    const reasons: Record<string, number> = {};
    for (const [k, v] of m) {
      const r = /^smarttech_quarantine_total\{reason="(.*)"\}$/.exec(k);
      if (r) reasons[r[1]] = v;
    }
    assert.deepEqual(reasons, c.reasons);
    assert.equal(m.get("smarttech_flush_rows_sum"), MESSAGES);
    assert.ok((m.get('smarttech_commit_duration_seconds_count{table="silver"}') ?? 0) >= 1);
    assert.ok((m.get("process_resident_memory_bytes") ?? 0) > 10_000_000, "RSS is read");
    assert.ok((m.get("process_cpu_seconds_total") ?? 0) > 0, "CPU is read");
    assert.ok((m.get("smarttech_freshness_seconds") ?? -1) >= 0);
    const h = await until("consume healthy", 15_000, async () => {
      const h = await health(port);
      return h.status === 200 ? h : null;
    });
    assert.equal(h.body.status, "ok");

    // gold saw the tables appear and refreshed them.
    const g = await until("a gold refresh with data", 30_000, async () => {
      const g = await scrape(goldPort);
      return (g.get('smarttech_gold_refreshes_total{outcome="changed"}') ?? 0) >= 1 ? g : null;
    });
    assert.ok((g.get('smarttech_gold_refresh_duration_seconds_count{table="alarms"}') ?? 0) >= 1);
    assert.equal((await health(goldPort)).status, 200);
  } finally {
    const c = await terminate(consume);
    assert.equal(c.code, 0, `consume exit code after SIGTERM\n${c.stderr}`);
    const summary = JSON.parse(c.stdout.trim().split("\n").pop()!);
    assert.equal(summary.records, MESSAGES, "the summary counts messages");
    assert.equal(summary.redelivered, 0);
    const g = await terminate(gold);
    assert.equal(g.code, 0, `gold exit code after SIGTERM\n${g.stderr}`);
    assert.equal(g.stderr.match(/waiting for the silver table/g)?.length, 1, g.stderr);
  }
  // A new group starts at Kafka's offset 0, within the window where the consumer reads on and
  // lets the tables' txn versions drop what they hold: every message is redelivered, none new.
  const again = spawnTask(
    "consume",
    consumeArgs({ brokers: BROKERS, topic, lakehouse, group: `g2-${topic}` }, [
      "--metrics-port",
      String(port),
    ]),
  );
  let redelivered;
  try {
    redelivered = await until("the redelivery counted", 30_000, async () => {
      const n = (await scrape(port)).get("smarttech_redelivered_records_total");
      return n === MESSAGES ? n : null;
    });
  } finally {
    const c = await terminate(again);
    assert.equal(c.code, 0, c.stderr);
    const summary = JSON.parse(c.stdout.trim().split("\n").pop()!);
    assert.equal(summary.records, 0, "redelivered messages are not records");
    assert.equal(summary.redelivered, redelivered ?? MESSAGES);
  }
  await Deno.remove(lakehouse, { recursive: true });
});

Deno.test("metrics: /healthz answers 503 with the reason while the broker is unreachable", async () => {
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-metrics-down-" });
  const port = freePort();
  const consume = spawnTask(
    "consume",
    consumeArgs({
      brokers: `127.0.0.1:${freePort()}`,
      topic: "nothing",
      lakehouse,
      group: "g-nothing",
    }, ["--metrics-port", String(port)]),
  );
  try {
    const h = await until("a 503", 15_000, async () => {
      const h = await health(port);
      return h.status === 503 && String(h.body.reason).includes("unreachable") ? h : null;
    });
    assert.equal(h.body.status, "unhealthy");
    assert.match(String(h.body.reason), /^broker: 127\.0\.0\.1:\d+ unreachable for/);
  } finally {
    const c = await terminate(consume);
    assert.equal(c.code, 0, `consume exit code after SIGTERM while waiting\n${c.stderr}`);
  }
  await Deno.remove(lakehouse, { recursive: true });
});
