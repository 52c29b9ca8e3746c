import assert from "node:assert/strict";
import { OutageLog } from "./outage.ts";

Deno.test("OutageLog: one line at once, at most one a second after, one when it answers again", () => {
  const lines: string[] = [];
  const o = new OutageLog("http://127.0.0.1:1", (l) => lines.push(l));
  o.answered(); // nothing to end
  const e = { attempt: 1, error: null, delayMs: 100, elapsedMs: 0, budgetMs: 20_000 };
  o.retrying("GET s3://b/k", "Connection refused", e);
  for (let i = 2; i < 50; i++) {
    o.retrying("GET s3://b/k", "Connection refused", { ...e, attempt: i });
  }
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /^s3: no answer from http:\/\/127\.0\.0\.1:1 \(Connection refused\) for GET s3:\/\/b\/k; retrying for up to 20 s/,
  );
  o.answered();
  assert.match(lines[1], /^s3: http:\/\/127\.0\.0\.1:1 answers again after \d+\.\d s$/);
  o.answered();
  assert.equal(lines.length, 2);
});
