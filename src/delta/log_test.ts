import assert from "node:assert/strict";
import { join } from "node:path";
import { writeCheckpoint } from "./checkpoint.ts";
import { commit } from "./commit.ts";
import { checkpointPath, listLog, listRecentLog, logDir } from "./log.ts";
import { clearSnapshotCaches, loadSnapshot } from "./snapshot.ts";
import { createTable } from "./table.ts";
import { SENSOR_SCHEMA } from "./test_fixtures/common.ts";

/** A table at version 12 whose commit 10 was checkpointed (every commit carries one txn). */
async function table(): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: ["building", "type"] });
  for (let v = 1; v <= 12; v++) {
    await commit(path, [], {
      readVersion: v - 1,
      operation: "WRITE",
      txns: [{ appId: "app-t-0", version: v * 100 }],
    });
  }
  return { dir, path };
}

Deno.test("listRecentLog: the hinted checkpoint and the commits after it, found without listing", async () => {
  const { dir, path } = await table();
  assert.deepEqual(await listRecentLog(path), { checkpoints: [10], commits: [11, 12] });
  assert.equal((await listLog(path)).commits.length, 13);
  await Deno.remove(join(logDir(path), "_last_checkpoint"));
  assert.equal(await listRecentLog(path), undefined);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an unreadable hinted checkpoint: snapshots and checkpoints fall back to the full log", async () => {
  const { dir, path } = await table();
  await Deno.writeTextFile(checkpointPath(path, 10), "not parquet");
  clearSnapshotCaches();
  const snap = await loadSnapshot(path);
  assert.equal(snap.version, 12);
  assert.equal(snap.txnVersion("app-t-0"), 1200);
  const r = await writeCheckpoint(path);
  assert.deepEqual([r.version, r.written], [12, true]);
  assert.deepEqual(await listRecentLog(path), { checkpoints: [12], commits: [] });
  await Deno.remove(dir, { recursive: true });
});
