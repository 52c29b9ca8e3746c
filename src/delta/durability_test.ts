import assert from "node:assert/strict";
import { join } from "node:path";
import { commit } from "./commit.ts";
import { syncDataFiles, syncPaths } from "./durability.ts";
import { DeltaError } from "./errors.ts";
import { listLog } from "./log.ts";
import { createTable } from "./table.ts";
import { SENSOR_SCHEMA } from "./test_fixtures/common.ts";

Deno.test("syncPaths syncs files and directories, many more than it opens at once", async () => {
  const dir = await Deno.makeTempDir();
  const files = Array.from({ length: 100 }, (_, i) => join(dir, `f${i}`));
  for (const f of files) await Deno.writeTextFile(f, "x");
  await syncPaths([...files, dir, dir]);
  await syncPaths([]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("syncDataFiles: partition files and their directories; a missing file is a DeltaError", async () => {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(join(root, "building=A", "type=co2"), { recursive: true });
  await Deno.writeTextFile(join(root, "building=A", "type=co2", "part.parquet"), "x");
  await syncDataFiles(root, ["building=A/type=co2/part.parquet", "/elsewhere/not-ours.parquet"]);
  const err = await syncDataFiles(root, ["building=A/gone.parquet"]).catch((e) => e);
  assert.ok(err instanceof DeltaError, String(err));
  assert.match(err.message, /does not exist.*gone\.parquet/);
  await Deno.remove(root, { recursive: true });
});

Deno.test("commit refuses to name a data file that does not exist, and writes no version", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: ["building", "type"] });
  const add = {
    add: {
      path: "building=B/type=t/missing.parquet",
      partitionValues: { building: "B", type: "t" },
      size: 10,
      modificationTime: 1,
      dataChange: true,
    },
  };
  const err = await commit(path, [add], { readVersion: 0, operation: "WRITE" }).catch((e) => e);
  assert.ok(err instanceof DeltaError, String(err));
  assert.deepEqual((await listLog(path)).commits, [0]);
  await Deno.remove(dir, { recursive: true });
});
