/**
 * What a user is told when something is off: `consume` with no broker says within seconds that
 * the broker is unreachable and that it keeps retrying with backoff (instead of staying silent
 * while kafkajs retries); `gold` with an unknown table lists the valid names; a lakehouse
 * directory that does not exist is an error naming it, not an empty lakehouse.
 */
import assert from "node:assert/strict";
import { runTask, spawnTask } from "./helpers/tasks.ts";

Deno.test("gold: an unknown --table lists the gold tables; a missing lakehouse is exit 1", async () => {
  const nope = await runTask("gold", ["--table", "nope", "--lakehouse", "/nonexistent-lh"]);
  assert.equal(nope.code, 2);
  assert.match(nope.stderr, /unknown gold table nope; the gold tables are: readings_1m, .*alarms/);
  const missing = await runTask("gold", ["--lakehouse", "/nonexistent-lh"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /lakehouse \/nonexistent-lh does not exist/);
});

Deno.test("consume: an unreachable broker is reported at once, with the retry backoff", async () => {
  // A port nothing listens on: bind one, then free it.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const lakehouse = await Deno.makeTempDir({ prefix: "consume-dead-" });
  const child = spawnTask("consume", ["--brokers", `127.0.0.1:${port}`, "--lakehouse", lakehouse]);
  let stderr = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const deadline = Date.now() + 15_000;
  try {
    while (!/\(attempt 2/.test(stderr) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += value;
    }
    assert.match(
      stderr,
      new RegExp(`broker 127\\.0\\.0\\.1:${port} unreachable \\(.*ECONNREFUSED`),
    );
    // The backoff is jittered to ±50 % (src/retry.ts): 0.5 s then 1 s nominally.
    const delays = [...stderr.matchAll(/retrying in (\d+\.\d) s \(attempt (\d)/g)];
    assert.match(stderr, /retrying in \d+\.\d s \(attempt 1, backoff up to 5 s/);
    assert.ok(Number(delays[0][1]) >= 0.2 && Number(delays[0][1]) <= 0.8, delays[0][0]);
    assert.ok(Number(delays[1][1]) >= 0.5 && Number(delays[1][1]) <= 1.5, delays[1][0]);
  } finally {
    child.kill("SIGKILL");
    await reader.cancel().catch(() => {});
    await child.stdout.cancel().catch(() => {});
    await child.status;
    await Deno.remove(lakehouse, { recursive: true });
  }
});
