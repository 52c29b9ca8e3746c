/**
 * Keeps the README true: every flag every task accepts (as its own `--help` lists it) is
 * documented in README.md, and every task in deno.json is named there.
 */
import assert from "node:assert/strict";
import { ROOT, runTask } from "./helpers/tasks.ts";

const readme = await Deno.readTextFile(`${ROOT}/README.md`);
const tasks: Record<string, string> =
  JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).tasks;

Deno.test("README names every task", () => {
  for (const name of Object.keys(tasks)) {
    assert.ok(
      readme.includes(`deno task ${name}`) || readme.includes(`\`${name}\``),
      `task ${name}`,
    );
  }
});

for (
  const name of [
    "produce",
    "consume",
    "ingest-files",
    "gold",
    "query",
    "table",
    "dashboard",
    "demo",
    "kafka:up",
    "chaos",
  ]
) {
  Deno.test(`README documents every flag of ${name}`, async () => {
    const r = await runTask(name, ["--help"]);
    assert.equal(r.code, 0, r.stderr);
    const flags = [...r.stdout.matchAll(/^\s+(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1])
      .filter((f) => f !== "--help");
    assert.ok(flags.length > 0, "help lists flags");
    const missing = flags.filter((f) => !readme.includes(`\`${f}`));
    assert.deepEqual(missing, [], `${name}: flags missing from README`);
  });
}
