/**
 * Four OS processes append to one table at once, 50 commits each: every commit lands, versions
 * are contiguous, no add is lost or duplicated, and delta_scan agrees with the layer.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { createTable, loadSnapshot } from "../src/delta/table.ts";
import { listLog, readCommit } from "../src/delta/log.ts";
import {
  appendWorker,
  layerView,
  normalise,
  scanView,
  SENSOR_SCHEMA,
} from "../src/delta/test_fixtures/common.ts";

const PROCESSES = 4;
const COMMITS = 50;

Deno.test("4 processes x 50 commits: contiguous versions, no add lost or duplicated", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: ["building", "type"] });
  try {
    const children = Array.from(
      { length: PROCESSES },
      (_, id) =>
        appendWorker([path, String(id), String(COMMITS), "append"], {
          stdout: "piped",
          stderr: "piped",
        }).output(),
    );
    const outputs = await Promise.all(children);
    const reported: { versions: number[]; paths: string[] }[] = [];
    for (const o of outputs) {
      const err = new TextDecoder().decode(o.stderr);
      assert.equal(o.code, 0, err);
      reported.push(JSON.parse(new TextDecoder().decode(o.stdout).trim().split("\n").at(-1)!));
    }
    const total = PROCESSES * COMMITS;
    const { commits } = await listLog(path);
    assert.deepEqual(commits, Array.from({ length: total + 1 }, (_, i) => i));
    const versions = reported.flatMap((r) => r.versions).sort((a, b) => a - b);
    assert.deepEqual(versions, Array.from({ length: total }, (_, i) => i + 1));

    const logged: string[] = [];
    for (let v = 1; v <= total; v++) {
      for (const a of await readCommit(path, v)) if ("add" in a) logged.push(a.add.path);
    }
    const written = reported.flatMap((r) => r.paths);
    assert.equal(new Set(logged).size, logged.length, "duplicate file in the log");
    assert.deepEqual([...logged].sort(), [...written].sort());
    const snap = await loadSnapshot(path);
    assert.deepEqual(snap.files.map((f) => f.path).sort(), [...written].sort());
    for (let id = 0; id < PROCESSES; id++) {
      assert.equal(snap.txnVersion(`worker-${id}`), COMMITS - 1);
    }

    const db = await openDuckDB();
    try {
      const mine = normalise(await layerView(db.conn, snap));
      assert.equal(Object.values(mine).reduce((s, v) => s + v.rows, 0), total * 5);
      assert.deepEqual(normalise(await scanView(db.conn, path, ["building", "type"])), mine);
      const seqs = (await db.conn.runAndReadAll(
        `SELECT count(DISTINCT seq)::BIGINT FROM delta_scan('${path}')`,
      )).getRows()[0][0];
      assert.equal(Number(seqs), total * 5);
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
