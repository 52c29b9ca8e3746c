/**
 * Incident notifications against a real HTTP receiver on 127.0.0.1: every event once, in order,
 * with its Idempotency-Key and HMAC signature; a receiver failing for 10 s (retries with
 * backoff, nothing lost, incidents still written meanwhile); a restart mid-stream (nothing
 * lost, a duplicate only with the same key and body); bad URLs refused at start.
 * gold/incidents versions are written directly here, as a gold refresh would commit them.
 */
import assert from "node:assert/strict";
import { commit } from "../src/delta/commit.ts";
import { createTable, releaseStagingDirectories, writeDataFiles } from "../src/delta/table.ts";
import { parseEndpoint, signBody } from "../src/notify/endpoint.ts";
import type { IncidentEvent, IncidentRow } from "../src/notify/events.ts";
import { Notifier, type NotifierOptions } from "../src/notify/notifier.ts";
import { openDuckDB, sqlString } from "../src/duckdb/engine.ts";
import { goldTablePath, INCIDENTS_SCHEMA } from "../src/gold/tables.ts";
import { tempLakehouse } from "./gold_helpers.ts";
import { ROOT, runTask } from "./helpers/tasks.ts";

const T0 = Date.UTC(2025, 0, 13, 9);
const MIN = 60_000;

function incident(id: string, patch: Partial<IncidentRow> = {}): IncidentRow {
  return {
    incident_id: id,
    severity: "warning",
    device_id: `B-F1-temperature-${id}`,
    building: "B",
    floor: 1,
    type: "temperature",
    rules: "spike,threshold",
    episodes: 2,
    started_at: T0,
    ended_at: null,
    peak_value: 34.5,
    peak_unit: "C",
    threshold: 28,
    threshold_unit: "C",
    threshold_rule: "threshold",
    ...patch,
  };
}

/** Replaces gold/incidents with `rows` in one commit (as a refresh does); returns the version. */
async function writeIncidents(lh: string, rows: IncidentRow[]): Promise<number> {
  const path = goldTablePath(lh, "incidents");
  const snap = await createTable(path, { schema: INCIDENTS_SCHEMA, partitionColumns: [] });
  const db = await openDuckDB({ delta: false });
  try {
    const lit = (v: string | number | null) =>
      v === null ? "NULL" : typeof v === "number" ? String(v) : sqlString(v);
    const ts = (ms: number | null) =>
      ms === null ? "NULL::TIMESTAMPTZ" : `${sqlString(new Date(ms).toISOString())}::TIMESTAMPTZ`;
    const values = rows.map((r) =>
      `(${lit(r.incident_id)}, ${lit(r.severity)}, ${lit(r.device_id)}, ${lit(r.building)}, ${
        lit(r.floor)
      }, ${lit(r.type)}, ${lit(r.rules)}, ${r.episodes}, ${ts(r.started_at)}, ${ts(r.ended_at)}, ${
        lit(r.peak_value)
      }::DOUBLE, ${lit(r.peak_unit)}, ${lit(r.threshold)}::DOUBLE, ${lit(r.threshold_unit)}, ${
        lit(r.threshold_rule)
      })`
    );
    const adds = rows.length === 0 ? [] : await writeDataFiles(
      db.conn,
      snap,
      `SELECT * FROM (VALUES ${values.join(", ")}) AS t(${
        INCIDENTS_SCHEMA.fields.map((f) => f.name).join(", ")
      })`,
    );
    const now = Date.now();
    const { version } = await commit(path, [
      ...snap.files.map((f) => ({
        remove: { path: f.path, deletionTimestamp: now, dataChange: true },
      })),
      ...adds.map((add) => ({ add })),
    ], { readVersion: snap.version, operation: "GOLD REFRESH" });
    return version;
  } finally {
    db.close();
    await releaseStagingDirectories([path]);
  }
}

interface Received {
  key: string | null;
  signature: string | null;
  raw: string;
  body: IncidentEvent;
}

/** A webhook receiver on 127.0.0.1; `answer` picks each request's status (default 200). */
function receiver(
  answer: (n: number, body: IncidentEvent) => number | Promise<number> = () => 200,
) {
  const got: Received[] = [];
  const accepted: Received[] = [];
  let n = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const raw = await req.text();
    const r: Received = {
      key: req.headers.get("idempotency-key"),
      signature: req.headers.get("x-smarttech-signature"),
      raw,
      body: JSON.parse(raw),
    };
    got.push(r);
    const status = await answer(n++, r.body);
    if (status < 300) accepted.push(r);
    return new Response(null, { status });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hooks/incidents`,
    got,
    accepted,
    close: () => server.shutdown(),
  };
}

async function withSetup(
  answer: Parameters<typeof receiver>[0],
  body: (
    ctx: { lh: string; rx: ReturnType<typeof receiver>; opts: NotifierOptions },
  ) => Promise<void>,
) {
  const lh = await tempLakehouse("notify-test-");
  const rx = receiver(answer);
  try {
    const opts: NotifierOptions = {
      lakehouse: lh,
      endpoints: [await parseEndpoint(rx.url)],
      dashboardUrl: "http://127.0.0.1:8080",
      secret: "s3cret",
      retryInitialMs: 100,
      retryMaxMs: 1000,
      pollMs: 200,
      log: () => {},
    };
    await body({ lh, rx, opts });
  } finally {
    await rx.close();
    await Deno.remove(lh, { recursive: true });
  }
}

const summary = (r: Received[]) => r.map((x) => `${x.body.incident_id}:${x.body.event}`);

Deno.test("notify: opened, escalated, cleared, each once, with key, signature and link", async () => {
  await withSetup(undefined, async ({ lh, rx, opts }) => {
    const n = await Notifier.start(opts); // before gold/incidents exists: follows it from creation
    try {
      await writeIncidents(lh, [incident("a")]);
      await writeIncidents(lh, [incident("a", { severity: "critical" })]);
      await writeIncidents(lh, [
        incident("a", { severity: "critical", ended_at: T0 + 20 * MIN }),
        incident("b", { started_at: T0 + 15 * MIN }),
      ]);
      assert.ok(await n.drain(20_000));
    } finally {
      await n.stop();
    }
    assert.deepEqual(summary(rx.got), ["a:opened", "a:escalated", "a:cleared", "b:opened"]);
    for (const r of rx.got) {
      assert.equal(r.key, r.body.event_id);
      assert.equal(r.signature, `sha256=${await signBody("s3cret", r.raw)}`);
    }
    assert.equal(new Set(rx.got.map((r) => r.key)).size, 4);
    const escalated = rx.got[1].body;
    assert.equal(escalated.previous_severity, "warning");
    assert.equal(escalated.severity, "critical");
    assert.deepEqual(escalated.rules, ["spike", "threshold"]);
    assert.deepEqual(escalated.peak, { value: 34.5, unit: "C" });
    assert.deepEqual(escalated.threshold, { value: 28, unit: "C", rule: "threshold" });
    assert.equal(rx.got[2].body.ended_at, new Date(T0 + 20 * MIN).toISOString());
    assert.equal(
      escalated.link,
      "http://127.0.0.1:8080/?building=B&device=B-F1-temperature-a",
    );

    // A second start has nothing left to send.
    const again = await Notifier.start(opts);
    try {
      assert.ok(await again.drain(10_000));
    } finally {
      await again.stop();
    }
    assert.equal(rx.got.length, 4);
  });
});

Deno.test("notify: a poke while an event is being delivered is not lost (no wait for the poll)", async () => {
  let release = () => {};
  const slow = new Promise<void>((r) => release = r);
  await withSetup(async (n) => {
    if (n === 0) await slow; // the first POST is held until the next version is poked
    return 200;
  }, async ({ lh, rx, opts }) => {
    await writeIncidents(lh, [incident("a")]);
    const n = await Notifier.start({ ...opts, pollMs: 60_000 });
    try {
      await writeIncidents(lh, [incident("a"), incident("b", { started_at: T0 + 15 * MIN })]);
      n.poke();
      while (rx.got.length === 0) await new Promise((r) => setTimeout(r, 20));
      // Delivering "a:opened" of the first version: the second version lands and is poked now.
      await writeIncidents(lh, [
        incident("a"),
        incident("b", { started_at: T0 + 15 * MIN }),
        incident("c", { started_at: T0 + 16 * MIN }),
      ]);
      n.poke();
      const t0 = performance.now();
      release();
      while (rx.accepted.length < 2 && performance.now() - t0 < 30_000) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(performance.now() - t0 < 10_000, "the poke was lost: waited for the poll");
    } finally {
      await n.stop();
    }
    assert.deepEqual(summary(rx.accepted), ["b:opened", "c:opened"]);
  });
});

Deno.test("notify: a receiver failing for 10 s gets every event afterwards; incidents go on meanwhile", async () => {
  let upAt = Infinity;
  await withSetup(() => Date.now() < upAt ? 503 : 200, async ({ lh, rx, opts }) => {
    const logged: string[] = [];
    const n = await Notifier.start({ ...opts, log: (l) => logged.push(l) });
    try {
      upAt = Date.now() + 10_000;
      await writeIncidents(lh, [incident("a")]);
      n.poke();
      await writeIncidents(lh, [incident("a"), incident("b", { started_at: T0 + MIN })]);
      n.poke();
      await writeIncidents(lh, [
        incident("a", { ended_at: T0 + 30 * MIN }),
        incident("b", { started_at: T0 + MIN }),
      ]);
      n.poke();
      // Every version was written while the endpoint was down, and nothing was accepted yet.
      assert.equal(rx.accepted.length, 0);
      assert.ok(Date.now() < upAt);
      assert.ok(await n.drain(40_000));
    } finally {
      await n.stop();
    }
    assert.deepEqual(summary(rx.accepted), ["a:opened", "b:opened", "a:cleared"]);
    assert.ok(rx.got.length > rx.accepted.length, "the endpoint was retried");
    // The failure and the recovery are both said.
    assert.ok(logged.some((l) => /failed .*retrying/.test(l)), logged.join("\n"));
    assert.ok(logged.some((l) => /opened of incident a delivered after \d+ attempts/.test(l)));
    // Every attempt at one event carries the same key and body.
    for (const r of rx.got) {
      const ok = rx.accepted.find((a) => a.key === r.key);
      assert.ok(ok, `an attempt with key ${r.key} was never accepted`);
      assert.equal(r.raw, ok.raw);
    }
  });
});

Deno.test("notify: a restart mid-stream loses nothing and repeats only with the same key", async () => {
  let hang = true;
  let hung: () => void = () => {};
  const hungOnce = new Promise<void>((r) => hung = r);
  let release: () => void = () => {};
  const released = new Promise<void>((r) => release = r);
  // The first process never gets an answer to its third event: it is stopped while waiting.
  await withSetup(async (i) => {
    if (i === 2 && hang) {
      hung();
      await released;
      return 503;
    }
    return 200;
  }, async ({ lh, rx, opts }) => {
    await writeIncidents(lh, []);
    const first = await Notifier.start({ ...opts, timeoutMs: 120_000 });
    await writeIncidents(lh, [incident("a")]);
    await writeIncidents(lh, [
      incident("a", { ended_at: T0 + 20 * MIN }),
      incident("b", { started_at: T0 + 5 * MIN }),
      incident("c", { started_at: T0 + 6 * MIN }),
    ]);
    first.poke();
    await hungOnce;
    await first.stop(); // mid-step: a's cleared was answered, b's opened was not
    hang = false;
    release();
    await writeIncidents(lh, [
      incident("a", { ended_at: T0 + 20 * MIN }),
      incident("b", { started_at: T0 + 5 * MIN, severity: "critical" }),
      incident("c", { started_at: T0 + 6 * MIN }),
    ]);
    const second = await Notifier.start(opts);
    try {
      assert.ok(await second.drain(20_000));
    } finally {
      await second.stop();
    }
    const keys = new Map<string, string>();
    for (const r of rx.accepted) {
      const prev = keys.get(r.key!);
      if (prev !== undefined) assert.equal(r.raw, prev, "a repeat differs from the first send");
      keys.set(r.key!, r.raw);
    }
    const unique = [...new Map(rx.accepted.map((r) => [r.key, r])).values()];
    assert.deepEqual(summary(unique).sort(), [
      "a:cleared",
      "a:opened",
      "b:escalated",
      "b:opened",
      "c:opened",
    ]);
    assert.ok(rx.accepted.length > unique.length, "the interrupted step was sent again");
  });
});

Deno.test("notify: a bad URL is an error at start", async () => {
  for (const bad of ["hooks.example.com/x", "ftp://example.com/x", "http://", "not a url"]) {
    await assert.rejects(() => parseEndpoint(bad), /notification URL/, bad);
  }
  await assert.rejects(() => parseEndpoint("https://example.com", "xml" as "json"), /format/);
  const ep = await parseEndpoint("https://hooks.slack.com/services/T0/B0/secret-token", "slack");
  assert.ok(!ep.label.includes("secret-token"));
  const own = await parseEndpoint("slack+https://hooks.slack.com/services/T0/B0/x", "json");
  assert.deepEqual([own.format, own.url.href], [
    "slack",
    "https://hooks.slack.com/services/T0/B0/x",
  ]);
});

Deno.test("notify: gold refuses a bad URL, and --notify without network access, at start", async () => {
  const lh = await tempLakehouse("notify-cli-");
  try {
    const bad = await runTask("gold", [
      "--lakehouse",
      lh,
      "--notify",
      "ftp://example.com/x",
    ]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /URL "ftp:\/\/example.com\/x" must be http:\/\/ or https:\/\//);
    const format = await runTask("gold", [
      "--lakehouse",
      lh,
      "--notify",
      "http://127.0.0.1:9/x",
      "--notify-format",
      "xml",
    ]);
    assert.equal(format.code, 2, format.stderr);
    assert.match(format.stderr, /unknown notification format "xml"/);
    const plus = await runTask("gold", ["--lakehouse", lh, "--notify", "slack+ftp://example.com"]);
    assert.equal(plus.code, 2, plus.stderr);
    assert.match(plus.stderr, /URL "slack\+ftp:\/\/example.com" is not a URL|must be http/);
    // gold's task line lets it reach any host; run with network for another host only.
    const narrowed = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-ffi",
        "--allow-net=127.0.0.1:8",
        "--allow-env",
        "scripts/gold.ts",
        "--lakehouse",
        lh,
        "--notify",
        "http://127.0.0.1:9/x",
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(narrowed.stderr);
    assert.equal(narrowed.code, 2, stderr);
    assert.match(stderr, /--notify needs network access to 127\.0\.0\.1:9: deno task gold has it/);
    // Nothing was written: the checks come before the lakehouse is touched.
    assert.deepEqual([...Deno.readDirSync(lh)], []);
  } finally {
    await Deno.remove(lh, { recursive: true });
  }
});
