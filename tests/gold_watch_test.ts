/**
 * `gold --watch` wakes on a new silver version (src/gold/tail.ts) instead of sleeping a whole
 * --interval, and `gold --notify` without --watch sends the refresh's events once and says what
 * it sent (never nothing silently).
 */
import assert from "node:assert/strict";
import { type SilverRow, simulate, tempLakehouse, writeSilver } from "./gold_helpers.ts";
import { runTask, spawnTask } from "./helpers/tasks.ts";

/** Lines of a child's stream as they arrive, with the time each arrived. */
function lines(stream: ReadableStream<Uint8Array>): { text: string; at: number }[] {
  const out: { text: string; at: number }[] = [];
  (async () => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const text of parts) out.push({ text, at: performance.now() });
    }
  })();
  return out;
}

async function until<T>(what: string, find: () => T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const hit = find();
    if (hit !== undefined) return hit;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function readings(fromMs: number, n: number): SilverRow[] {
  return Array.from({ length: n }, (_, i) => ({
    timestamp: fromMs + i * 10_000,
    device_id: "b1-f1-temperature-01",
    building: "b1",
    floor: 1,
    type: "temperature",
    value: 21 + (i % 3) * 0.1,
  }));
}

Deno.test({
  name: "gold --watch: refreshes within seconds of a new silver commit, not after --interval",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const lh = await tempLakehouse("gold-watch-");
    const start = Date.UTC(2025, 0, 6, 8);
    const first = await writeSilver(lh, readings(start, 30));
    const gold = spawnTask(
      "gold",
      ["--lakehouse", lh, "--watch", "--interval", "60", "--threads", "1"],
      {},
      { stdout: "piped", stderr: "null" },
    );
    const out = lines(gold.stdout);
    try {
      await until(
        `the refresh of silver v${first}`,
        () => out.find((l) => l.text.startsWith(`silver v${first},`)),
      );
      const next = await writeSilver(lh, readings(start + 300_000, 30));
      const committed = performance.now();
      const seen = await until(
        `the refresh of silver v${next}`,
        () => out.find((l) => l.text.startsWith(`silver v${next},`)),
        50_000, // under the 60 s interval: only waking on the commit can meet it
      );
      const lag = (seen.at - committed) / 1000;
      console.log(`refresh of silver v${next} done ${lag.toFixed(2)} s after its commit`);
      assert.ok(lag < 20, `refresh came ${lag.toFixed(1)} s after the commit`);
    } finally {
      gold.kill("SIGTERM");
      assert.equal((await gold.status).code, 0);
      await Deno.remove(lh, { recursive: true });
    }
  },
});

Deno.test({
  name: "gold --notify without --watch: sends this refresh's events once and says what it sent",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const lh = await tempLakehouse("gold-notify-once-");
    const received: string[] = [];
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      received.push(req.headers.get("idempotency-key") ?? "");
      await req.body?.cancel();
      return new Response(null, { status: 204 });
    });
    const url = `http://127.0.0.1:${server.addr.port}/incidents`;
    try {
      const { rows } = simulate({
        seed: 3,
        start: Date.UTC(2025, 0, 6, 8),
        intervalSeconds: 30,
        durationSeconds: 3 * 3600,
        topology: { buildings: 1, floors: 2 },
        faults: "anomalies",
      });
      await writeSilver(lh, rows);
      const args = ["--lakehouse", lh, "--notify", url, "--threads", "1"];
      const once = await runTask("gold", args);
      assert.equal(once.code, 0, once.stderr);
      assert.ok(received.length > 0, "no event sent");
      const said = once.stderr.match(/--notify: (\d+) incident event\(s\) delivered, 0 rejected/);
      assert.ok(said, once.stderr);
      assert.equal(Number(said[1]), received.length);

      // Nothing new: the run says so, and how to keep sending.
      const again = await runTask("gold", args);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /no new incident events to send.*add --watch/s);
      assert.equal(received.length, Number(said[1]), "the second run sent events again");
    } finally {
      await server.shutdown();
      await Deno.remove(lh, { recursive: true });
    }
  },
});
