import assert from "node:assert/strict";
import { join } from "node:path";
import type { Action } from "./actions.ts";
import { commit } from "./commit.ts";
import { CommitConflictError, ConcurrentTransactionError } from "./errors.ts";
import { listLog, readCommit } from "./log.ts";
import { loadSnapshot } from "./snapshot.ts";
import { createTable } from "./table.ts";
import { SENSOR_SCHEMA } from "./test_fixtures/common.ts";

/** An add of an empty file `<name>.parquet` it creates in the table: commit syncs what it adds. */
function fakeAdd(table: string, name: string): Action {
  Deno.writeFileSync(join(table, `${name}.parquet`), new Uint8Array());
  return {
    add: {
      path: `${name}.parquet`,
      partitionValues: { building: "B", type: "t" },
      size: 10,
      modificationTime: 1,
      dataChange: true,
      stats: JSON.stringify({ numRecords: 5 }),
    },
  };
}

async function table(): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: ["building", "type"] });
  return { dir, path };
}

Deno.test("commit writes commitInfo with engine, metrics and txns; leaves no temp file", async () => {
  const { dir, path } = await table();
  const { version } = await commit(path, [fakeAdd(path, "a"), fakeAdd(path, "b")], {
    readVersion: 0,
    operation: "WRITE",
    txns: [{ appId: "app-t-0", version: 41 }],
    isBlindAppend: true,
  });
  assert.equal(version, 1);
  const actions = await readCommit(path, 1);
  const info = actions.find((a) => "commitInfo" in a) as { commitInfo: Record<string, unknown> };
  assert.equal(info.commitInfo.operation, "WRITE");
  assert.match(String(info.commitInfo.engineInfo), /^smarttech-lakehouse\/\S+ deno\/\d/);
  assert.deepEqual(info.commitInfo.operationMetrics, {
    numFiles: 2,
    numOutputRows: 10,
    numOutputBytes: 20,
  });
  assert.equal((await loadSnapshot(path)).txnVersion("app-t-0"), 41);
  const names = [];
  for await (const e of Deno.readDir(join(path, "_delta_log"))) names.push(e.name);
  assert.deepEqual(names.filter((n) => n.startsWith(".tmp")), []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("losing a race to a harmless append retries at the next version", async () => {
  const { dir, path } = await table();
  await commit(path, [fakeAdd(path, "a")], { readVersion: 0, operation: "WRITE" });
  // Same stale read version: version 1 is taken, the append lands at 2.
  const { version } = await commit(path, [fakeAdd(path, "b")], {
    readVersion: 0,
    operation: "WRITE",
  });
  assert.equal(version, 2);
  const all = await Promise.all(
    Array.from(
      { length: 8 },
      (_, i) => commit(path, [fakeAdd(path, `c${i}`)], { readVersion: 2, operation: "WRITE" }),
    ),
  );
  assert.deepEqual(all.map((r) => r.version).sort((a, b) => a - b), [3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual((await listLog(path)).commits, Array.from({ length: 11 }, (_, i) => i));
  assert.equal((await loadSnapshot(path)).files.length, 10);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("same txn appId committed concurrently -> ConcurrentTransactionError", async () => {
  const { dir, path } = await table();
  const txns = [{ appId: "ingest-sensor_data-3", version: 100 }];
  await commit(path, [fakeAdd(path, "a")], { readVersion: 0, operation: "WRITE", txns });
  const err = await commit(path, [fakeAdd(path, "b")], {
    readVersion: 0,
    operation: "WRITE",
    txns: [{ appId: "ingest-sensor_data-3", version: 120 }],
  }).catch((e) => e);
  assert.ok(err instanceof ConcurrentTransactionError, String(err));
  assert.equal(err.appId, "ingest-sensor_data-3");
  assert.equal(err.winningVersion, 1);
  assert.match(err.message, /ingest-sensor_data-3.*version 1/);
  // Truly concurrent: exactly one of two racing writers wins.
  const results = await Promise.allSettled(
    [1, 2].map((i) =>
      commit(path, [fakeAdd(path, `r${i}`)], {
        readVersion: 1,
        operation: "WRITE",
        txns: [{ appId: "ingest-sensor_data-7", version: i }],
      })
    ),
  );
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
  const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
  assert.ok(rejected.reason instanceof ConcurrentTransactionError);
  // Different appIds do not conflict.
  const ok = await commit(path, [fakeAdd(path, "c")], {
    readVersion: 1,
    operation: "WRITE",
    txns: [{ appId: "ingest-sensor_data-8", version: 5 }],
  });
  assert.equal(ok.version, 3);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("metadata change or double remove by a winner -> CommitConflictError naming versions", async () => {
  const { dir, path } = await table();
  const snap = await loadSnapshot(path);
  await commit(path, [{ metaData: { ...snap.metadata, configuration: { a: "1" } } }], {
    readVersion: 0,
    operation: "SET TBLPROPERTIES",
  });
  const err = await commit(path, [fakeAdd(path, "x")], { readVersion: 0, operation: "WRITE" })
    .catch((e) => e);
  assert.ok(err instanceof CommitConflictError);
  assert.deepEqual(err.conflictingVersions, [1]);
  await commit(path, [fakeAdd(path, "y")], { readVersion: 1, operation: "WRITE" });
  const rm: Action = { remove: { path: "y.parquet", dataChange: false, deletionTimestamp: 1 } };
  await commit(path, [rm], { readVersion: 2, operation: "OPTIMIZE" });
  const err2 = await commit(path, [rm], { readVersion: 2, operation: "OPTIMIZE" }).catch((e) => e);
  assert.ok(err2 instanceof CommitConflictError);
  assert.match(err2.message, /y\.parquet.*version 3/);
  // maxRetries bounds the number of lost races.
  const err3 = await commit(path, [fakeAdd(path, "z")], {
    readVersion: 0,
    operation: "WRITE",
    maxRetries: 0,
  }).catch((e) => e);
  assert.ok(err3 instanceof CommitConflictError);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkWinner sees each commit that won the race and can abandon the commit", async () => {
  const { dir, path } = await table();
  await commit(path, [fakeAdd(path, "a")], { readVersion: 0, operation: "WRITE" });
  await commit(path, [fakeAdd(path, "b")], { readVersion: 1, operation: "WRITE" });
  const seen: number[] = [];
  const r = await commit(path, [fakeAdd(path, "c")], {
    readVersion: 0,
    operation: "WRITE",
    isBlindAppend: true,
    checkWinner: (v, actions) => {
      seen.push(v);
      assert.ok(actions.some((a) => "add" in a));
    },
  });
  assert.deepEqual(seen, [1, 2]);
  assert.equal(r.version, 3);
  await assert.rejects(
    commit(path, [fakeAdd(path, "d")], {
      readVersion: 2,
      operation: "WRITE",
      checkWinner: () => {
        throw new Error("taken");
      },
    }),
    /taken/,
  );
  assert.equal((await loadSnapshot(path)).version, 3, "the abandoned commit left no version");
  await Deno.remove(dir, { recursive: true });
});
