/**
 * What a user is told when something is off: `consume` with no broker says within seconds that
 * the broker is unreachable and that it keeps retrying with backoff (instead of staying silent
 * while kafkajs retries); `gold` with an unknown table lists the valid names, and a
 * `--memory-limit` that is not a size says so; a lakehouse directory that does not exist is an
 * error naming it, not an empty lakehouse.
 */
import assert from "node:assert/strict";
import { runTask, spawnTask } from "./helpers/tasks.ts";

Deno.test("gold: an unknown --table lists the gold tables, a bad --memory-limit is exit 2; a missing lakehouse is exit 1", async () => {
  const nope = await runTask("gold", ["--table", "nope", "--lakehouse", "/nonexistent-lh"]);
  assert.equal(nope.code, 2);
  assert.match(nope.stderr, /unknown gold table nope; the gold tables are: readings_1m, .*alarms/);
  const missing = await runTask("gold", ["--lakehouse", "/nonexistent-lh"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /lakehouse \/nonexistent-lh does not exist/);
  const size = await runTask("gold", ["--memory-limit", "lots", "--lakehouse", "/nonexistent-lh"]);
  assert.equal(size.code, 2);
  assert.match(size.stderr, /--memory-limit "lots" is not a size such as 384MB or 1GB/);
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

Deno.test("demo: a lakehouse holding an earlier run's tables is refused, naming --reset", async () => {
  const lakehouse = await Deno.makeTempDir({ prefix: "demo-again-" });
  try {
    await Deno.mkdir(`${lakehouse}/bronze/_delta_log`, { recursive: true });
    // No broker needed: the check comes before anything starts.
    const again = await runTask("demo", ["--lakehouse", lakehouse, "--brokers", "127.0.0.1:1"]);
    assert.equal(again.code, 2, again.stderr);
    assert.match(
      again.stderr,
      /^error: lakehouse .* already holds bronze from an earlier run; pass --reset/,
    );
  } finally {
    await Deno.remove(lakehouse, { recursive: true });
  }
});

Deno.test("CLI convention: unknown flags, deprecated aliases, options a task does not take", async () => {
  const unknown = await runTask("score", ["--truht", "x"]);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, "error: unknown option --truht (see --help)\n");
  // produce never uses a lakehouse: it does not take one (nor validate gs://).
  const produce = await runTask("produce", ["--lakehouse", "gs://x", "--count", "1"]);
  assert.equal(produce.code, 2);
  assert.equal(produce.stderr, "error: unknown option --lakehouse (see --help)\n");
  const missing = await runTask("score", []);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: --truth FILE is required/);
  const help = await runTask("dashboard", ["--help"]);
  assert.match(help.stdout, /--interval-ms <value>\s+Refresh and push period in milliseconds/);
});
