import assert from "node:assert/strict";
import { join } from "node:path";
import { commit } from "../delta/commit.ts";
import { createTable } from "../delta/table.ts";
import { waitForCommit } from "./tail.ts";

async function table(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "gold-tail-" });
  const path = join(dir, "t");
  await createTable(path, {
    schema: { fields: [{ name: "x", type: "long", nullable: true }] },
    partitionColumns: [],
  });
  return path;
}

Deno.test("tail: wakes within a poll of the next commit, long before the timeout", async () => {
  const path = await table();
  try {
    const t0 = performance.now();
    const committed = new Promise<number>((resolve) =>
      setTimeout(async () => {
        await commit(path, [], { readVersion: 0, operation: "WRITE" });
        resolve(performance.now());
      }, 300)
    );
    const outcome = await waitForCommit(path, 1, {
      pollMs: 50,
      timeoutMs: 30_000,
      signal: new AbortController().signal,
    });
    const woke = performance.now();
    assert.equal(outcome, "commit");
    const lag = woke - await committed;
    assert.ok(lag < 1000, `woke ${lag.toFixed(0)} ms after the commit`);
    assert.ok(woke - t0 < 5000);
  } finally {
    await Deno.remove(join(path, ".."), { recursive: true });
  }
});

Deno.test("tail: times out without a commit, and stops on abort", async () => {
  const path = await table();
  try {
    assert.equal(
      await waitForCommit(path, 1, {
        pollMs: 20,
        timeoutMs: 150,
        signal: new AbortController().signal,
      }),
      "timeout",
    );
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 100);
    const t0 = performance.now();
    assert.equal(
      await waitForCommit(path, 1, { timeoutMs: 60_000, signal: stop.signal }),
      "stopped",
    );
    assert.ok(performance.now() - t0 < 2000);
    // An existing version answers at once.
    assert.equal(
      await waitForCommit(path, 0, { timeoutMs: 1, signal: new AbortController().signal }),
      "commit",
    );
  } finally {
    await Deno.remove(join(path, ".."), { recursive: true });
  }
});
