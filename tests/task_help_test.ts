/**
 * Keeps docs/tasks.md true from the outside: every flag each task's own `--help` lists (the
 * process, as a user runs it) is in docs/tasks.md, and every task in deno.json has a section
 * there. tests/docs_test.ts checks the file is what the generator renders; this one would also
 * catch a task whose help and exported specs part ways.
 */
import assert from "node:assert/strict";
import { ROOT, runTask } from "./helpers/tasks.ts";

const doc = await Deno.readTextFile(`${ROOT}/docs/tasks.md`);
const tasks: Record<string, string> =
  JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).tasks;

Deno.test("docs/tasks.md has a section for every task", () => {
  for (const name of Object.keys(tasks)) {
    assert.ok(new RegExp(`^## .*\`deno task ${name}\``, "m").test(doc), `task ${name}`);
  }
});

for (
  const name of [
    "produce",
    "consume",
    "ingest-files",
    "gold",
    "score",
    "query",
    "table",
    "dashboard",
    "demo",
    "kafka:up",
    "s3:up",
    "bench",
    "chaos",
  ]
) {
  Deno.test(`docs/tasks.md documents every flag of ${name}`, async () => {
    const r = await runTask(name, ["--help"]);
    assert.equal(r.code, 0, r.stderr);
    const flags = [...r.stdout.matchAll(/^\s+(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1])
      .filter((f) => f !== "--help");
    assert.ok(flags.length > 0, "help lists flags");
    const missing = flags.filter((f) => !doc.includes(`\`${f}`));
    assert.deepEqual(missing, [], `${name}: flags missing from docs/tasks.md`);
  });
}
