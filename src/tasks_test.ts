import assert from "node:assert/strict";
import { taskLine } from "./tasks.ts";

Deno.test("task lines: leading NAME=value words are the task's environment", () => {
  const consume = taskLine("consume");
  assert.match(consume.env.DUCKDB_JE_MALLOC_CONF ?? "", /dirty_decay_ms/);
  assert.ok(consume.args.at(-1)?.endsWith("scripts/consume.ts"));
  assert.ok(!consume.args.some((a) => a.includes("=") && /^[A-Z_]+=/.test(a)));
  assert.deepEqual(taskLine("query").env, {});
  assert.throws(() => taskLine("no-such-task"), /not a deno run task/);
});
