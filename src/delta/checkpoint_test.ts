import assert from "node:assert/strict";
import { join } from "node:path";
import type { Action } from "./actions.ts";
import { writeCheckpoint } from "./checkpoint.ts";
import { commit } from "./commit.ts";
import { listLog, readLastCheckpoint } from "./log.ts";
import { clearSnapshotCaches, loadSnapshot } from "./snapshot.ts";
import { createTable } from "./table.ts";
import { SENSOR_SCHEMA } from "./test_fixtures/common.ts";

const TABLE_CLI = new URL("../../scripts/table.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** `n` tombstones of files that compaction would have removed, `expired` of them long ago. */
function removes(n: number, from: number, expired = 0): Action[] {
  return Array.from({ length: n }, (_, i) => ({
    remove: {
      path: `building=B${i % 5}/type=co2/part-${from + i}.zstd.parquet`,
      deletionTimestamp: i < expired ? 1 : Date.now(),
      dataChange: false,
      extendedFileMetadata: true,
      partitionValues: { building: `B${i % 5}`, type: "co2" },
      size: 12_345,
    },
  }));
}

async function tableWithTombstones(
  tombstones: number,
  expired: number,
): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: ["building", "type"] });
  const per = 50_000;
  for (let i = 0, v = 0; i < tombstones; i += per, v++) {
    await commit(path, removes(Math.min(per, tombstones - i), i, i === 0 ? expired : 0), {
      readVersion: v,
      operation: "OPTIMIZE",
      skipCheckpoint: true,
    });
  }
  return { dir, path };
}

Deno.test("a checkpoint of 200k tombstones is written by a process with a 32 MB V8 heap", async () => {
  const { dir, path } = await tableWithTombstones(200_000, 1_000);
  // The table CLI with the consumer's kind of V8 cap, a quarter of it: the state never
  // passes through JavaScript.
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      CONFIG,
      "--v8-flags=--max-old-space-size=32",
      "--allow-read",
      `--allow-write=${dir}`,
      "--allow-ffi",
      "--allow-env=DUCKDB_EXTENSION_DIR,DEBUG",
      TABLE_CLI,
      "checkpoint",
      path,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.deepEqual((await listLog(path)).checkpoints, [4]);
  // Expired tombstones are dropped; the rest are all there, and a lean load skips them.
  assert.equal((await readLastCheckpoint(path))?.size, 2 + 199_000);
  clearSnapshotCaches();
  assert.equal((await loadSnapshot(path)).tombstones.length, 199_000);
  const lean = await loadSnapshot(path, { tombstones: false });
  assert.deepEqual([lean.tombstones.length, lean.files.length, lean.version], [0, 0, 4]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkpoints of a large state are spaced by its size, not every 10 commits", async () => {
  const { dir, path } = await tableWithTombstones(25_000, 0);
  await writeCheckpoint(path);
  assert.equal((await readLastCheckpoint(path))?.size, 25_002);
  // 26 commits must pass before the next checkpoint (25,002 actions / 1,000 per commit).
  for (let v = 2; v <= 31; v++) {
    await commit(path, removes(1, 100_000 + v), { readVersion: v - 1, operation: "OPTIMIZE" });
  }
  assert.deepEqual((await listLog(path)).checkpoints, [1, 30]);
  await Deno.remove(dir, { recursive: true });
});
