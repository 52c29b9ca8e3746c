/**
 * scripts/table.ts end to end: JSON info/history, checkpoint (and its dry run, which writes
 * nothing), optimize, vacuum refusal, tables by name under --lakehouse, flags a verb does not take.
 */
import { runTask } from "./helpers/tasks.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { appendQuery, createTable } from "../src/delta/table.ts";
import { SENSOR_SCHEMA, sensorRowsSql } from "../src/delta/test_fixtures/common.ts";

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
    const before = [...Deno.readDirSync(join(path, "_delta_log"))].map((e) => e.name).sort();
    const dry = await run(dir, "checkpoint", path, "--dry-run");
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /would write the checkpoint of version 3/);
    assert.deepEqual(
      [...Deno.readDirSync(join(path, "_delta_log"))].map((e) => e.name).sort(),
      before,
    );
    const cp = await run(dir, "checkpoint", path);
    assert.match(cp.out, /checkpoint of version 3/);
    const opt = JSON.parse((await run(dir, "optimize", path, "--format", "json")).out);
    assert.equal(opt.version, 4);
    const refused = await run(dir, "vacuum", path, "--retention-hours", "0");
    assert.equal(refused.code, 1);
    assert.match(refused.err, /below the 1 h safety minimum/);
    assert.match(refused.err, /\(pass --force to override\)$/m);
    const vac = await run(dir, "vacuum", path, "--retention-hours", "0", "--force");
    assert.equal(vac.code, 0, vac.err);
    assert.match(vac.out, /deleted 12 files/);
    assert.equal((await run(dir, "bogus", path)).code, 2);
    const csv = await run(dir, "history", path, "--limit", "2", "--format", "csv");
    assert.match(csv.out, /^version,committed,operation,metrics\n/);
    const noCsv = await run(dir, "info", path, "--format", "csv");
    assert.equal(noCsv.code, 2);
    assert.match(noCsv.err, /^error: --format of info must be table, json; got "csv"/);
    const unknownFlag = await run(dir, "info", path, "--bogus");
    assert.equal(unknownFlag.code, 2);
    assert.equal(unknownFlag.err, "error: unknown option --bogus (see --help)\n");
    const hist2 = await run(dir, "history", path, "--limit", "2");
    assert.match(hist2.out, /^version\s+committed\s+operation\s+metrics\n/);
    assert.match(hist2.out, /\(2 rows\)\n$/);
    const misplaced = await run(dir, "history", path, "--version", "2");
    assert.equal(misplaced.code, 2);
    assert.match(misplaced.err, /--version does not apply to history/);
    const dryVac = await run(dir, "vacuum", path, "--dry-run", "--retention-hours", "0", "--force");
    assert.equal(dryVac.err, "");
    assert.match(dryVac.out, /would delete 0 files \(0 B\)\n$/);

    // Names under --lakehouse, as every other task takes it.
    const lh = join(dir, "lh");
    await Deno.mkdir(join(lh, "gold"), { recursive: true });
    await Deno.rename(path, join(lh, "silver"));
    const byName = await run(dir, "info", "silver", "--lakehouse", lh, "--format", "json");
    assert.equal(byName.code, 0, byName.err);
    assert.equal(JSON.parse(byName.out).rows, 30);
    const list = await run(dir, "list", "--lakehouse", lh);
    assert.match(list.out, /^table\s+version\s+last_commit\s+files\s+size\s+rows\s+path\n/);
    assert.match(list.out, /\nsilver\s+4\s.*\s30\s/);
    const twin = await runTask("table", ["list", "--lakehouse", lh], { TABLE_FORMAT: "json" });
    assert.equal(JSON.parse(twin.stdout)[0].table, "silver", twin.stderr);
    const unknown = await run(dir, "info", "gold_nope", "--lakehouse", lh);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /no table "gold_nope" in .*; tables: silver/);
    const noLake = await run(dir, "list", "--lakehouse", join(dir, "typo"));
    assert.equal(noLake.code, 1);
    assert.match(noLake.err, /lakehouse .*typo does not exist/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
