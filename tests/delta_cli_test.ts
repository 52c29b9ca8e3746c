/** scripts/table.ts end to end: JSON info/history, checkpoint, optimize, vacuum refusal. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openDuckDB } from "../src/query/duckdb.ts";
import { appendQuery, createTable } from "../src/delta/table.ts";
import { SENSOR_SCHEMA, sensorRowsSql } from "./delta_helpers/common.ts";

const CLI = new URL("../scripts/table.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

async function run(dir: string, ...args: string[]) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      CONFIG,
      "--allow-read",
      `--allow-write=${dir}`,
      "--allow-ffi",
      "--allow-env=DUCKDB_EXTENSION_DIR,DEBUG",
      CLI,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: o.code,
    out: new TextDecoder().decode(o.stdout),
    err: new TextDecoder().decode(o.stderr),
  };
}

Deno.test("table CLI: info, history, checkpoint, optimize, vacuum", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: ["building", "type"] });
  const db = await openDuckDB({ delta: false });
  for (let k = 0; k < 3; k++) {
    await appendQuery(db.conn, path, sensorRowsSql(10, k * 10), {
      txns: [{ appId: "a-t-0", version: k }],
    });
  }
  db.close();
  try {
    const info = await run(dir, "info", path, "--format", "json");
    assert.equal(info.code, 0, info.err);
    const i = JSON.parse(info.out);
    assert.equal(i.version, 3);
    assert.equal(i.rows, 30);
    assert.deepEqual(i.txns, { "a-t-0": 2 });
    const old = JSON.parse(
      (await run(dir, "info", path, "--format", "json", "--version", "1")).out,
    );
    assert.equal(old.rows, 10);
    const hist = JSON.parse((await run(dir, "history", path, "--format", "json")).out);
    assert.deepEqual(hist.map((h: { version: number }) => h.version), [3, 2, 1, 0]);
    const cp = await run(dir, "checkpoint", path);
    assert.match(cp.out, /checkpoint of version 3/);
    const opt = JSON.parse((await run(dir, "optimize", path, "--format", "json")).out);
    assert.equal(opt.version, 4);
    const refused = await run(dir, "vacuum", path, "--retention-hours", "0");
    assert.equal(refused.code, 1);
    assert.match(refused.err, /below the 1 h safety minimum/);
    const vac = await run(dir, "vacuum", path, "--retention-hours", "0", "--force");
    assert.equal(vac.code, 0, vac.err);
    assert.match(vac.out, /deleted 12 files/);
    assert.equal((await run(dir, "bogus", path)).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
