/**
 * The Delta kernel on `s3://` against a real S3-compatible server (S3Proxy): what the local
 * suite proves for commits holds there — processes racing, conflict re-check, txn resume,
 * SIGKILL mid-commit, checkpoints, optimize, vacuum and log cleanup, the server restarted
 * mid-stream — and DuckDB's delta_scan and delta-rs read the tables with the same counts/sums.
 */
import assert from "node:assert/strict";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { enableLocation } from "../src/duckdb/s3.ts";
import {
  appendQuery,
  commit,
  ConcurrentTransactionError,
  createTable,
  loadSnapshot,
  optimize,
  vacuum,
  writeCheckpoint,
} from "../src/delta/table.ts";
import { listLog, readCommit } from "../src/delta/log.ts";
import { cleanupExpiredLog } from "../src/delta/log_cleanup.ts";
import { startLocalS3, stopLocalS3 } from "../src/storage/local_s3proxy.ts";
import { resetStorageCache, storageFor } from "../src/storage/storage.ts";
import { removeS3Scratch, s3Scratch } from "../src/storage/test_s3.ts";
import {
  appendWorker,
  layerView,
  normalise,
  scanView,
  SENSOR_SCHEMA,
  sensorRowsSql,
} from "../src/delta/test_fixtures/common.ts";

const PARTS = ["building", "type"];

import { deltalakePython } from "../src/python_venv.ts";
import { noteSkip } from "./helpers/skip.ts";

const READER = new URL("./tools/read_with_deltalake.py", import.meta.url).pathname;

Deno.test("s3: 3 processes x 15 commits race: contiguous versions, nothing lost, readers agree", async () => {
  const path = `${await s3Scratch("race")}/t`;
  try {
    await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS });
    const outputs = await Promise.all(
      [0, 1, 2].map((id) =>
        appendWorker([path, String(id), "15", "append"], { stdout: "piped", stderr: "piped" })
          .output()
      ),
    );
    const written: string[] = [];
    for (const o of outputs) {
      assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
      written.push(
        ...JSON.parse(new TextDecoder().decode(o.stdout).trim().split("\n").at(-1)!).paths,
      );
    }
    const { commits, checkpoints } = await listLog(path);
    assert.deepEqual(commits, Array.from({ length: 46 }, (_, i) => i));
    assert.ok(checkpoints.length >= 1, "checkpoints are written on S3 too");
    const logged: string[] = [];
    for (let v = 1; v <= 45; v++) {
      for (const a of await readCommit(path, v)) if ("add" in a) logged.push(a.add.path);
    }
    assert.equal(new Set(logged).size, logged.length, "duplicate file in the log");
    assert.deepEqual([...logged].sort(), [...written].sort());
    const snap = await loadSnapshot(path);
    for (const id of [0, 1, 2]) assert.equal(snap.txnVersion(`worker-${id}`), 14);
    const db = await openDuckDB();
    try {
      await enableLocation(db.conn, path);
      const mine = normalise(await layerView(db.conn, snap));
      assert.equal(Object.values(mine).reduce((s, v) => s + v.rows, 0), 45 * 5);
      assert.deepEqual(normalise(await scanView(db.conn, path, PARTS)), mine);
      const deltalake = await deltalakePython();
      if ("python" in deltalake) {
        const o = await new Deno.Command(deltalake.python, {
          args: [READER, path, "latest", "worker-0"],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(o.success, new TextDecoder().decode(o.stderr));
        const py = JSON.parse(new TextDecoder().decode(o.stdout));
        assert.equal(py.version, 45);
        assert.equal(py.txns["worker-0"], 14);
        assert.deepEqual(normalise(py.partitions), mine, "delta-rs reads the same counts/sums");
      } else {
        noteSkip("s3 race: the delta-rs reader", `no python with deltalake: ${deltalake.reason}`);
      }
    } finally {
      db.close();
    }
  } finally {
    await removeS3Scratch(path);
  }
});

Deno.test("s3: many creators of one table at once all get it (listings lag the winner's PUT)", async () => {
  const scratch = await s3Scratch("create-race");
  try {
    for (let round = 0; round < 15; round++) {
      const path = `${scratch}/t${round}`;
      resetStorageCache();
      const snaps = await Promise.all(
        Array.from(
          { length: 6 },
          () => createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS }),
        ),
      );
      assert.ok(snaps.every((s) => s.version === 0), `round ${round}`);
      assert.equal(new Set(snaps.map((s) => s.metadata.id)).size, 1, "one table, one id");
    }
  } finally {
    await removeS3Scratch(scratch);
  }
});

Deno.test("s3: conflict re-check: a winner's txn for our appId aborts, a blind append retries", async () => {
  const path = `${await s3Scratch("conflict")}/t`;
  try {
    const snap = await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS });
    await commit(path, [], {
      readVersion: 0,
      operation: "WRITE",
      txns: [{ appId: "a-0", version: 7 }],
    });
    // Computed against version 0: the winner (1) carries a-0, so a second a-0 commit must abort.
    await assert.rejects(
      () =>
        commit(path, [], {
          readVersion: snap.version,
          operation: "WRITE",
          txns: [{ appId: "a-0", version: 8 }],
        }),
      ConcurrentTransactionError,
    );
    // Another appId from the same stale read lands at the next version.
    const r = await commit(path, [], {
      readVersion: snap.version,
      operation: "WRITE",
      txns: [{ appId: "b-0", version: 3 }],
    });
    assert.equal(r.version, 2);
    const latest = await loadSnapshot(path);
    assert.equal(latest.txnVersion("a-0"), 7);
    assert.equal(latest.txnVersion("b-0"), 3);
  } finally {
    await removeS3Scratch(path);
  }
});

Deno.test("s3: SIGKILL after writing data, before the commit: table unchanged, vacuum removes orphans", async () => {
  const path = `${await s3Scratch("crash")}/t`;
  try {
    await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS });
    const child = appendWorker([path, "0", "1", "crash"], { stdout: "piped", stderr: "piped" })
      .spawn();
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    const orphans: string[] = JSON.parse(new TextDecoder().decode(value)).paths;
    assert.ok(orphans.length > 0);
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stderr.cancel();
    const snap = await loadSnapshot(path);
    assert.equal(snap.version, 0);
    assert.equal(snap.files.length, 0);
    const res = await vacuum(path, { retentionHours: 0, force: true });
    assert.deepEqual(res.files.sort(), orphans.map(decodeURIComponent).sort());
    const left = await storageFor(path).list(path, { recursive: true });
    assert.ok(left.every((o) => o.location.includes("/_delta_log/")));
  } finally {
    await removeS3Scratch(path);
  }
});

Deno.test("s3: optimize, vacuum and log cleanup keep the table readable (escaped partition keys)", async () => {
  const path = `${await s3Scratch("maint")}/t`;
  const db = await openDuckDB();
  try {
    await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS });
    for (let k = 1; k <= 12; k++) {
      // Partition values that need escaping in keys (Delta's %XX, then SigV4's URI encoding).
      await appendQuery(db.conn, path, sensorRowsSql(20, k * 20, ["B1", "a/b %=ü", ""]), {
        txns: [{ appId: "app-0", version: k }],
      });
    }
    await enableLocation(db.conn, path);
    const before = normalise(await scanView(db.conn, path, PARTS));
    const opt = await optimize(path);
    assert.ok(opt.version !== undefined && opt.filesAdded < opt.filesRemoved);
    assert.deepEqual(normalise(await scanView(db.conn, path, PARTS)), before);
    const vac = await vacuum(path, { retentionHours: 0, force: true });
    assert.equal(vac.files.length, opt.filesRemoved);
    assert.deepEqual(normalise(await scanView(db.conn, path, PARTS)), before);
    await writeCheckpoint(path);
    // Every commit "expired" (a clock 40 days ahead): cleanup keeps from the older checkpoint.
    // A pass deletes for 100 ms at most (four requests per version here): passes until done.
    let deleted = 0;
    for (let complete = false; !complete;) {
      const cleaned = await cleanupExpiredLog(path, {
        latest: 13,
        retentionMs: 30 * 86_400_000,
        now: Date.now() + 40 * 86_400_000,
      });
      assert.equal(cleaned.keepFrom, 10);
      deleted += cleaned.commitsDeleted;
      complete = cleaned.complete;
    }
    assert.equal(deleted, 10);
    assert.equal((await listLog(path)).commits[0], 10);
    assert.deepEqual(normalise(await scanView(db.conn, path, PARTS)), before);
    assert.equal((await loadSnapshot(path)).txnVersion("app-0"), 12);
  } finally {
    db.close();
    await removeS3Scratch(path);
  }
});

Deno.test("s3: the S3 server restarted mid-stream: commits wait for it and none is lost", async () => {
  await s3Scratch(); // the AWS_* variables (credentials) of the test server
  const port = 9000 + 100 + Math.floor(Math.random() * 800);
  const stateDir = await Deno.makeTempDir({ prefix: "s3restart-" });
  await startLocalS3({ port, stateDir, log: () => {} });
  const saved = Deno.env.get("AWS_ENDPOINT_URL")!;
  Deno.env.set("AWS_ENDPOINT_URL", `http://127.0.0.1:${port}`);
  resetStorageCache();
  const path = "s3://lakehouse/restart/t";
  try {
    await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS });
    let stop = false;
    const versions: number[] = [];
    const writer = (async () => {
      for (let k = 1; !stop || k <= 3; k++) {
        const snap = await loadSnapshot(path, { tombstones: false });
        const r = await commit(path, [], {
          readVersion: snap.version,
          operation: "WRITE",
          txns: [{ appId: "w-0", version: k }],
        });
        versions.push(r.version);
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    await stopLocalS3({ port, stateDir, signal: "SIGKILL" });
    await new Promise((r) => setTimeout(r, 500));
    await startLocalS3({ port, stateDir, log: () => {} });
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await writer;
    const snap = await loadSnapshot(path);
    assert.equal(snap.version, versions.at(-1));
    assert.deepEqual(versions, Array.from({ length: versions.length }, (_, i) => i + 1));
    assert.equal(snap.txnVersion("w-0"), versions.length);
  } finally {
    Deno.env.set("AWS_ENDPOINT_URL", saved);
    resetStorageCache();
    await stopLocalS3({ port, stateDir });
    await Deno.remove(stateDir, { recursive: true });
  }
});
