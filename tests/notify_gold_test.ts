/**
 * `deno task gold --watch --notify` end to end: real silver (the seeded simulator with anomalies)
 * arrives in batches while gold refreshes and notifies a receiver on 127.0.0.1; the gold process
 * is SIGKILLed while an event is in flight and started again. Every event that walking
 * gold/incidents version by version yields arrives (nothing lost), signed, and a repeat only
 * ever carries the key and body of an earlier send.
 */
import assert from "node:assert/strict";
import { loadSnapshot } from "../src/delta/snapshot.ts";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { goldTablePath } from "../src/gold/tables.ts";
import { parseEndpoint, signBody } from "../src/notify/endpoint.ts";
import { diffIncidents, type IncidentRow } from "../src/notify/events.ts";
import { notifyAppId, readIncidentsAt } from "../src/notify/notifier.ts";
import { type SilverRow, simulate, tempLakehouse, writeSilver } from "./gold_helpers.ts";
import { spawnTask } from "./helpers/tasks.ts";

const SECRET = "e2e-secret";
const DASHBOARD = "http://127.0.0.1:8080";

/** Waits until `ready()` holds, polling; fails after `ms`. */
async function until(what: string, ready: () => Promise<boolean> | boolean, ms = 90_000) {
  const deadline = Date.now() + ms;
  while (!await ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The events of every step of gold/incidents' history, as the notifier derives them. */
async function expectedEvents(lh: string): Promise<Map<string, string>> {
  const path = goldTablePath(lh, "incidents");
  const latest = (await loadSnapshot(path)).version;
  const db = await openDuckDB({ delta: false });
  const out = new Map<string, string>();
  try {
    let before = new Map<string, IncidentRow>();
    for (let v = 0; v <= latest; v++) {
      const after = await readIncidentsAt(db.conn, path, v);
      const events = await diffIncidents(before, after.values(), {
        dashboardUrl: DASHBOARD,
        version: v,
      });
      for (const e of events) out.set(e.event_id, `${e.incident_id}:${e.event}`);
      before = after;
    }
  } finally {
    db.close();
  }
  return out;
}

Deno.test({
  name:
    "notify: gold --watch SIGKILLed mid-delivery and restarted loses no event, repeats keep keys",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const lh = await tempLakehouse("notify-gold-");
    const received: { key: string; raw: string; signature: string | null }[] = [];
    let hangAt = 3; // the first process's 4th request is never answered
    let release: () => void = () => {};
    const released = new Promise<void>((r) => release = r);
    let hanging = false;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const raw = await req.text();
      if (hangAt === 0) {
        hanging = true;
        await released;
        return new Response(null, { status: 503 });
      }
      hangAt--;
      received.push({
        key: req.headers.get("idempotency-key") ?? "",
        raw,
        signature: req.headers.get("x-smarttech-signature"),
      });
      return new Response(null, { status: 204 });
    });
    const url = `http://127.0.0.1:${server.addr.port}/incidents`;
    const appId = notifyAppId(await parseEndpoint(url));
    const gold = () =>
      spawnTask(
        "gold",
        ["--lakehouse", lh, "--watch", "--interval", "0.5", "--notify", url, "--threads", "1"],
        { GOLD_NOTIFY_SECRET: SECRET, GOLD_DASHBOARD_URL: DASHBOARD },
        { stdout: "null", stderr: "null" },
      );
    try {
      const { rows } = simulate({
        seed: 3,
        start: Date.UTC(2025, 0, 6, 8),
        intervalSeconds: 30,
        durationSeconds: 6 * 3600,
        topology: { buildings: 1, floors: 2 },
        faults: "anomalies",
      });
      const t = (r: SilverRow) => Number(r.timestamp);
      const cuts = [0, 2, 4, 6].map((h) => Date.UTC(2025, 0, 6, 8 + h));
      const batch = (k: number) => rows.filter((r) => t(r) >= cuts[k] && t(r) < cuts[k + 1]);

      const first = gold();
      await writeSilver(lh, batch(0));
      await writeSilver(lh, batch(1));
      await until("an event in flight", () => hanging);
      first.kill("SIGKILL");
      await first.status;
      hangAt = Infinity;
      release();

      await writeSilver(lh, batch(2));
      const second = gold();
      try {
        const silver = await loadSnapshot(`${lh}/silver`);
        await until("gold and its notifications to catch up", async () => {
          try {
            const inc = await loadSnapshot(goldTablePath(lh, "incidents"));
            const out = await loadSnapshot(goldTablePath(lh, "notifications"));
            return inc.txnVersion("gold-incidents-silver") === silver.version &&
              out.txnVersion(appId) === inc.version;
          } catch {
            return false;
          }
        });
      } finally {
        second.kill("SIGTERM");
        await second.status;
      }

      const expected = await expectedEvents(lh);
      assert.ok(expected.size >= 5, `only ${expected.size} events in the scenario`);
      const firstSend = new Map<string, string>();
      for (const r of received) {
        assert.equal(r.signature, `sha256=${await signBody(SECRET, r.raw)}`);
        const prev = firstSend.get(r.key);
        if (prev !== undefined) assert.equal(r.raw, prev, `a repeat of ${r.key} differs`);
        else firstSend.set(r.key, r.raw);
      }
      assert.deepEqual(
        [...firstSend.keys()].sort(),
        [...expected.keys()].sort(),
        "received events != events of the incidents' history",
      );
      console.log(
        `${expected.size} events, ${received.length} deliveries ` +
          `(${received.length - firstSend.size} repeats, all with the same key and body)`,
      );
    } finally {
      release();
      await server.shutdown();
      await Deno.remove(lh, { recursive: true });
    }
  },
});
