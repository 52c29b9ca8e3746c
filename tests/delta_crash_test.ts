/**
 * A writer SIGKILLed between writing Parquet and committing leaves the table readable and
 * unchanged; vacuum later removes the orphans (and not before its retention allows).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { appendQuery, createTable, loadSnapshot, vacuum } from "../src/delta/table.ts";
import { RetentionTooShortError } from "../src/delta/errors.ts";
import {
  appendWorker,
  layerView,
  normalise,
  scanView,
  SENSOR_SCHEMA,
  sensorRowsSql,
} from "../src/delta/test_fixtures/common.ts";
import { exists } from "../src/files.ts";

const PARTS = ["building", "type"];

Deno.test("SIGKILL before commit leaves the table unchanged; forced vacuum removes orphans", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS });
  const db = await openDuckDB();
  try {
    await appendQuery(db.conn, path, sensorRowsSql(40));
    const before = await loadSnapshot(path);
    const beforeView = normalise(await scanView(db.conn, path, PARTS));

    const child = appendWorker([path, "9", "1", "crash"], { stdout: "piped", stderr: "inherit" })
      .spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    while (!buf.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
    }
    child.kill("SIGKILL");
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL");
    await reader.cancel().catch(() => {});
    const orphans: string[] = JSON.parse(buf.trim()).paths;
    assert.equal(orphans.length, 4);
    for (const p of orphans) assert.ok(await exists(join(path, decodeURIComponent(p))));

    const after = await loadSnapshot(path);
    assert.equal(after.version, before.version);
    assert.deepEqual(after.files, before.files);
    assert.deepEqual(normalise(await scanView(db.conn, path, PARTS)), beforeView);
    assert.deepEqual(normalise(await layerView(db.conn, after)), beforeView);

    // Default retention keeps the (young) orphans; under 1 h is refused unless forced.
    assert.deepEqual((await vacuum(path)).files, []);
    await assert.rejects(() => vacuum(path, { retentionHours: 0 }), RetentionTooShortError);
    // A stale temp commit file is cleaned too; the log itself is never touched.
    const tmp = join(path, "_delta_log", ".tmp-stale.json");
    await Deno.writeTextFile(tmp, "{}");
    const dry = await vacuum(path, { retentionHours: 0, force: true, dryRun: true });
    assert.deepEqual(
      [...dry.files].sort(),
      [...orphans.map((p) => decodeURIComponent(p)), "_delta_log/.tmp-stale.json"].sort(),
    );
    for (const p of orphans) assert.ok(await exists(join(path, decodeURIComponent(p))));
    const done = await vacuum(path, { retentionHours: 0, force: true });
    assert.equal(done.files.length, orphans.length + 1);
    for (const p of orphans) assert.ok(!(await exists(join(path, decodeURIComponent(p)))));
    assert.ok(!(await exists(tmp)));
    assert.deepEqual(normalise(await scanView(db.conn, path, PARTS)), beforeView);
    assert.equal((await loadSnapshot(path)).version, before.version);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
