import assert from "node:assert/strict";
import { join } from "node:path";
import { writeCheckpoint } from "./checkpoint.ts";
import { commit } from "./commit.ts";
import { setDeltaLog } from "./diagnostics.ts";
import {
  checkpointPath,
  commitPath,
  listLog,
  listRecentLog,
  logDir,
  reconcileListing,
} from "./log.ts";
import { clearSnapshotCaches, loadSnapshot } from "./snapshot.ts";
import { createTable } from "./table.ts";
import { CorruptLogError, TableNotFoundError } from "./errors.ts";
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
  const lines: string[] = [];
  const previous = setDeltaLog((line) => lines.push(line));
  let snap, r;
  try {
    snap = await loadSnapshot(path);
    r = await writeCheckpoint(path);
  } finally {
    setDeltaLog(previous);
  }
  assert.equal(snap.version, 12);
  assert.equal(snap.txnVersion("app-t-0"), 1200);
  // Read around, and said so through the kernel's log sink (not straight to stderr).
  assert.ok(lines.length > 0 && lines.every((l) => l.startsWith("delta: ignoring unreadable")));
  assert.deepEqual([r.version, r.written], [12, true]);
  assert.deepEqual(await listRecentLog(path), { checkpoints: [12], commits: [] });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("reconcileListing: a listing that lags the writes is completed by probes, never believed", async () => {
  const { dir, path } = await table();
  const all = Array.from({ length: 13 }, (_, v) => v);
  // What an object store's listing can show while others write: nothing, a hole, a short tail.
  for (
    const lagging of [
      { commits: [], checkpoints: [] },
      { commits: [0, 1, 2, 5, 6], checkpoints: [] },
      { commits: [3, 4], checkpoints: [] },
      { commits: [0, 1], checkpoints: [10] },
    ]
  ) {
    const got = await reconcileListing(path, lagging);
    assert.deepEqual(got.commits, all, JSON.stringify(lagging));
  }
  // After log cleanup (commits before the checkpoint gone), an empty listing finds the start
  // through _last_checkpoint.
  for (let v = 0; v < 10; v++) await Deno.remove(commitPath(path, v));
  const cleaned = await reconcileListing(path, { commits: [], checkpoints: [] });
  assert.deepEqual(cleaned, { commits: [10, 11, 12], checkpoints: [10] });
  clearSnapshotCaches();
  assert.equal((await loadSnapshot(path)).version, 12);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("reconcileListing: a real hole stays a hole and no log stays no table", async () => {
  const { dir, path } = await table();
  await Deno.remove(commitPath(path, 5));
  await Deno.remove(join(logDir(path), "_last_checkpoint"));
  await Deno.remove(checkpointPath(path, 10));
  const got = await listLog(path);
  assert.deepEqual(got.commits, [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12]);
  clearSnapshotCaches();
  await assert.rejects(() => loadSnapshot(path), CorruptLogError);
  await assert.rejects(() => loadSnapshot(join(dir, "nothing")), TableNotFoundError);
  assert.deepEqual(await listLog(join(dir, "nothing")), { commits: [], checkpoints: [] });
  await Deno.remove(dir, { recursive: true });
});
