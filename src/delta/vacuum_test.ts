import assert from "node:assert/strict";
import { join } from "node:path";
import { commit } from "./commit.ts";
import { listLog } from "./log.ts";
import { createTable, loadSnapshot, vacuum } from "./table.ts";
import { SENSOR_SCHEMA } from "./test_fixtures/common.ts";

Deno.test("vacuum: referenced and recently removed files stay, old orphans go, symlinks and the log are untouched", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: ["building", "type"] });
  const old = new Date(Date.now() - 10 * 24 * 3600 * 1000);
  const mk = async (rel: string) => {
    await Deno.mkdir(join(path, rel, ".."), { recursive: true });
    await Deno.writeTextFile(join(path, rel), "x");
    await Deno.utime(join(path, rel), old, old);
  };
  for (
    const f of [
      "building=a/type=t/live.parquet",
      "building=a/type=t/removed.parquet",
      "building=b/type=t/orphan.parquet",
      "top-orphan.parquet",
    ]
  ) {
    await mk(f);
  }
  const pv = { building: "a", type: "t" };
  await commit(path, [
    {
      add: {
        path: "building%3Da/type%3Dt/live.parquet",
        partitionValues: pv,
        size: 1,
        modificationTime: 1,
        dataChange: true,
      },
    },
    {
      add: {
        path: "building%3Da/type%3Dt/removed.parquet",
        partitionValues: pv,
        size: 1,
        modificationTime: 1,
        dataChange: true,
      },
    },
  ], { readVersion: 0, operation: "WRITE" });
  await commit(path, [{
    remove: {
      path: "building%3Da/type%3Dt/removed.parquet",
      dataChange: true,
      deletionTimestamp: Date.now(),
    },
  }], {
    readVersion: 1,
    operation: "DELETE",
  });
  // A symlink to a file outside the table must not be followed or its target deleted.
  const outside = join(dir, "outside.txt");
  await Deno.writeTextFile(outside, "keep");
  await Deno.symlink(outside, join(path, "link.parquet"));
  const dry = await vacuum(path, { dryRun: true });
  assert.deepEqual(dry.files.sort(), ["building=b/type=t/orphan.parquet", "top-orphan.parquet"]);
  const res = await vacuum(path);
  assert.deepEqual(res.files.sort(), dry.files.sort());
  assert.equal(await Deno.readTextFile(outside), "keep");
  await Deno.stat(join(path, "building=a/type=t/removed.parquet")); // tombstone within retention
  await assert.rejects(() => Deno.stat(join(path, "building=b")), Deno.errors.NotFound);
  assert.deepEqual((await listLog(path)).commits, [0, 1, 2]);
  assert.equal((await loadSnapshot(path)).files.length, 1);
  // Once the tombstone is older than the retention, the removed file goes too.
  const forced = await vacuum(path, { retentionHours: 0, force: true });
  assert.deepEqual(forced.files, ["building=a/type=t/removed.parquet"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("vacuum: a live writer's staging directory stays; a crashed or idle writer's goes", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: ["building", "type"] });
  const old = new Date(Date.now() - 10 * 24 * 3600 * 1000);
  const file = async (rel: string, aged: boolean) => {
    await Deno.mkdir(join(path, rel, ".."), { recursive: true });
    await Deno.writeTextFile(join(path, rel), "x");
    if (aged) await Deno.utime(join(path, rel), old, old);
  };
  await Deno.mkdir(join(path, "_staging-live", "__pid=1"), { recursive: true });
  await file("_staging-live/__pid=2/in-flight.parquet", false);
  await file("_staging-dead/__pid=1/left.parquet", true);
  await Deno.mkdir(join(path, "_staging-idle", "__pid=1"), { recursive: true });
  await Deno.utime(join(path, "_staging-idle", "__pid=1"), old, old);
  await Deno.utime(join(path, "_staging-idle"), old, old);
  await file("building=z/type=t/orphan.parquet", true);

  const res = await vacuum(path);
  assert.deepEqual(res.files.sort(), [
    "_staging-dead/__pid=1/left.parquet",
    "building=z/type=t/orphan.parquet",
  ]);
  const exists = (rel: string) => Deno.stat(join(path, rel)).then(() => true, () => false);
  assert.ok(
    await exists("_staging-live/__pid=1"),
    "an empty staging subdirectory of a live writer",
  );
  assert.ok(await exists("_staging-live/__pid=2/in-flight.parquet"));
  assert.ok(!await exists("_staging-dead"), "emptied by this vacuum");
  assert.ok(!await exists("_staging-idle"), "untouched for longer than the retention");
  assert.ok(!await exists("building=z"));
  await Deno.remove(dir, { recursive: true });
});
