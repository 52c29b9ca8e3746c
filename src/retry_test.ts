import assert from "node:assert/strict";
import { backoffDelay, type RetryEvent, retrying } from "./retry.ts";

Deno.test("retrying: retries what is retryable within the budget, then throws the last error", async () => {
  const events: RetryEvent[] = [];
  let calls = 0;
  const t0 = Date.now();
  await assert.rejects(
    retrying(() => {
      calls++;
      throw new Error(`down ${calls}`);
    }, {
      baseMs: 5,
      maxMs: 20,
      budgetMs: 150,
      retryable: () => true,
      onRetry: (e) => events.push(e),
    }),
    /down \d+/,
  );
  const took = Date.now() - t0;
  assert.ok(took >= 150 && took < 1000, `took ${took} ms`);
  assert.equal(events.length, calls - 1);
  assert.deepEqual(events.map((e) => e.attempt), events.map((_, i) => i + 1));
  assert.ok(events.every((e) => e.delayMs <= 30 && e.budgetMs === 150));
});

Deno.test("retrying: a non-retryable error is thrown at once; a success ends it", async () => {
  let calls = 0;
  await assert.rejects(
    retrying(() => {
      calls++;
      throw new RangeError("refused");
    }, { baseMs: 1, maxMs: 1, budgetMs: 1000, retryable: (e) => !(e instanceof RangeError) }),
    RangeError,
  );
  assert.equal(calls, 1);
  const out = await retrying(async (i) => {
    if (i < 2) throw new Error("flaky");
    return await Promise.resolve(i);
  }, { baseMs: 1, maxMs: 2, budgetMs: 1000, retryable: () => true });
  assert.equal(out, 2);
});

Deno.test("backoffDelay: doubles from base up to max, jittered within ±50 %", () => {
  for (let i = 0; i < 8; i++) {
    const d = backoffDelay(i, { baseMs: 100, maxMs: 2000 });
    const mid = Math.min(100 * 2 ** i, 2000);
    assert.ok(d >= mid * 0.5 && d <= mid * 1.5, `attempt ${i}: ${d}`);
  }
});
