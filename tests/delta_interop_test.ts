/**
 * Cross-check with delta-rs: python's `deltalake` reads tables written by this layer (at an
 * old version, after a checkpoint, after optimize, after log cleanup) with the same per-partition counts and sums
 * as the layer's own reader. delta-rs comes from a venv under .cache/ made on first use; without
 * python3 or PyPI the test is skipped loudly (and fails under CI=true).
 *
 * Unlike delta_scan, delta-rs keeps the partition value "" distinct from null, so this
 * comparison does not fold them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openDuckDB } from "../src/duckdb/engine.ts";
import {
  appendQuery,
  createTable,
  loadSnapshot,
  optimize,
  writeCheckpoint,
} from "../src/delta/table.ts";
import { commitPath, listLog } from "../src/delta/log.ts";
import { cleanupExpiredLog } from "../src/delta/log_cleanup.ts";
import { versionAtTimestamp } from "../src/delta/snapshot.ts";
import { VersionNotFoundError } from "../src/delta/errors.ts";
import {
  layerView,
  normalise,
  SENSOR_SCHEMA,
  sensorRowsSql,
} from "../src/delta/test_fixtures/common.ts";
import { deltalakePython } from "../src/python_venv.ts";
import { skipTest } from "./helpers/skip.ts";

const SCRIPT = new URL("./tools/read_with_deltalake.py", import.meta.url).pathname;

/** delta-rs from the venv under .cache/ (made on first use; DELTALAKE_PYTHON overrides). */
const deltalake = await deltalakePython();
const PYTHON = "python" in deltalake ? deltalake.python : null;

interface PyView {
  version: number;
  files: number;
  partitions: Record<string, { rows: number; sum: number }>;
  txns: Record<string, number | null>;
}

/** `version`: a number, `@<epoch ms>` (time travel by timestamp), or the latest. */
async function readWithDeltalake(
  path: string,
  version?: number | `@${number}`,
  appIds: string[] = [],
) {
  const o = await new Deno.Command(PYTHON!, {
    args: [SCRIPT, path, version === undefined ? "latest" : String(version), ...appIds],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(o.success, new TextDecoder().decode(o.stderr));
  return JSON.parse(new TextDecoder().decode(o.stdout)) as PyView;
}

const NAME =
  "delta-rs reads the layer's tables identically (time travel, checkpoint, optimize, cleanup)";
if (PYTHON === null) {
  skipTest(
    NAME,
    `no python with deltalake: ${"reason" in deltalake ? deltalake.reason : ""} ` +
      `(needs python3 with venv and pip, e.g. apt-get install python3-venv, and PyPI)`,
    { failInCi: true },
  );
}

Deno.test({
  name: NAME,
  ignore: PYTHON === null,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const path = join(dir, "t");
    const parts = ["building", "type"];
    await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: parts });
    const db = await openDuckDB({ delta: false });
    try {
      for (let k = 1; k <= 12; k++) {
        await appendQuery(
          db.conn,
          path,
          sensorRowsSql(30, k * 30, ["B1", "", "a/b %=ü"], ["temp", "co2"]),
          { txns: [{ appId: "app-sensor_data-0", version: k }] },
        );
      }
      // A null partition too.
      await appendQuery(
        db.conn,
        path,
        `SELECT * REPLACE (NULL AS building) FROM (${sensorRowsSql(10, 5)})`,
      );
      assert.deepEqual((await listLog(path)).checkpoints, [10]);
      const check = async (version?: number) => {
        const snap = await loadSnapshot(path, version === undefined ? {} : { version });
        const py = await readWithDeltalake(path, version, ["app-sensor_data-0"]);
        assert.equal(py.version, snap.version);
        assert.equal(py.files, snap.files.length);
        assert.deepEqual(
          normalise(py.partitions),
          normalise(await layerView(db.conn, snap, "value", false)),
          `version ${snap.version}`,
        );
        assert.equal(py.txns["app-sensor_data-0"], snap.txnVersion("app-sensor_data-0") ?? null);
      };
      await check(5);
      await check(); // 13: checkpoint 10 + 3 JSON commits
      const opt = await optimize(path);
      assert.ok(opt.version !== undefined && opt.filesAdded < opt.filesRemoved);
      await check(); // after optimize
      await check(12);
      // The log cleaned to its retention: it starts at checkpoint 10 (kept with the one at 14).
      await writeCheckpoint(path);
      const old = new Date(Date.now() - 40 * 86_400_000);
      for (let v = 0; v <= 14; v++) await Deno.utime(commitPath(path, v), old, old);
      // No deadline: a pass deletes for 100 ms by default, which a loaded machine can exceed.
      const cleaned = await cleanupExpiredLog(path, {
        latest: 14,
        retentionMs: 30 * 86_400_000,
        budgetMs: 600_000,
      });
      assert.equal(cleaned.keepFrom, 10);
      assert.equal((await listLog(path)).commits[0], 10);
      await check();
      await check(12);
    } finally {
      db.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "time travel by timestamp picks the version delta-rs picks (commit files' mtimes, whole seconds)",
  ignore: PYTHON === null,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const path = join(dir, "t");
    await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: ["building", "type"] });
    const db = await openDuckDB({ delta: false });
    try {
      for (let k = 1; k <= 3; k++) await appendQuery(db.conn, path, sensorRowsSql(5, k * 5));
      // As S3Proxy dates objects: whole seconds, two commits within one second. The writer's
      // clock (commitInfo.timestamp, now) is deliberately far from the files' times.
      const t0 = Date.UTC(2026, 0, 1, 7, 37, 37);
      const mtimes = [t0, t0 + 1000, t0 + 1000, t0 + 3000];
      mtimes.forEach((t, v) => Deno.utimeSync(commitPath(path, v), new Date(t), new Date(t)));
      const probes = [t0, t0 + 999, t0 + 1000, t0 + 1001, t0 + 2500, t0 + 3000, t0 + 9000];
      const ours = [];
      const theirs = [];
      for (const at of probes) {
        ours.push(await versionAtTimestamp(path, new Date(at)));
        theirs.push((await readWithDeltalake(path, `@${at}`)).version);
      }
      // v2's file is no newer than v1's, so it counts as 1 ms after it (Spark does the same).
      assert.deepEqual(ours, [0, 0, 1, 2, 2, 3, 3]);
      assert.deepEqual(theirs, ours);
      await assert.rejects(() => versionAtTimestamp(path, new Date(t0 - 1)), VersionNotFoundError);
    } finally {
      db.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
