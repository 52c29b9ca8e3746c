import assert from "node:assert/strict";
import { join } from "node:path";
import { openDuckDB } from "../duckdb/engine.ts";
import { readCommit } from "./log.ts";
import { commit } from "./commit.ts";
import { CommitConflictError } from "./errors.ts";
import { schemaCompatibility, withAddedFields } from "./evolution.ts";
import { snapshotScanSql } from "./scan.ts";
import {
  appendQuery,
  createTable,
  loadSnapshot,
  optimize,
  type TableSchema,
  writeCheckpoint,
} from "./table.ts";
import { SENSOR_SCHEMA, sensorRowsSql } from "./test_fixtures/common.ts";

const PARTS = ["building", "type"];
const EVOLVED: TableSchema = {
  fields: [...SENSOR_SCHEMA.fields, { name: "battery", type: "double", nullable: true }],
};
/** Rows with a battery level (seq / 10) for the evolved schema. */
const withBattery = (n: number, seed: number) =>
  `SELECT *, seq / 10.0 AS battery FROM (${sensorRowsSql(n, seed)})`;

Deno.test("withAddedFields appends the missing fields as nullable; compatibility rules", () => {
  assert.equal(withAddedFields(EVOLVED, SENSOR_SCHEMA), null, "removing never drops");
  const grown = withAddedFields(SENSOR_SCHEMA, {
    fields: [{ name: "Battery", type: "double", nullable: false }],
  })!;
  assert.deepEqual(grown.fields.at(-1), { name: "Battery", type: "double", nullable: true });
  assert.equal(withAddedFields(EVOLVED, { fields: [EVOLVED.fields.at(-1)!] }), null);
  assert.equal(schemaCompatibility(EVOLVED, SENSOR_SCHEMA), undefined);
  assert.equal(schemaCompatibility(SENSOR_SCHEMA, EVOLVED), undefined);
  assert.match(
    schemaCompatibility(SENSOR_SCHEMA, {
      fields: [...SENSOR_SCHEMA.fields, { name: "rssi", type: "long", nullable: false }],
    })!,
    /"rssi".*missing/,
  );
  assert.match(
    schemaCompatibility(EVOLVED, {
      fields: [...SENSOR_SCHEMA.fields, { name: "battery", type: "string", nullable: true }],
    })!,
    /battery" is double, requested string/,
  );
});

Deno.test("a new column arrives by metaData in the same commit as its first rows; old versions read without it", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "silver");
  await createTable(path, {
    schema: SENSOR_SCHEMA,
    partitionColumns: PARTS,
    properties: { "delta.checkpointInterval": "3" },
  });
  const db = await openDuckDB({ delta: false });
  try {
    await appendQuery(db.conn, path, sensorRowsSql(40, 0));
    const before = await loadSnapshot(path);
    const { version } = await appendQuery(db.conn, path, withBattery(20, 100), {
      schema: EVOLVED,
    });
    // One commit: the metaData (same id, new schema) and the rows that carry the column.
    const actions = await readCommit(path, version);
    const meta = actions.find((a) => "metaData" in a) as { metaData: { id: string } };
    assert.equal(meta.metaData.id, before.metadata.id);
    assert.ok(actions.some((a) => "add" in a));
    const info = actions.find((a) => "commitInfo" in a) as {
      commitInfo: { isBlindAppend: boolean };
    };
    assert.equal(info.commitInfo.isBlindAppend, false);
    // Writing the same schema again adds no metaData; a writer that no longer asks for the
    // column (schema: SENSOR_SCHEMA) keeps it and writes NULL.
    const again = await appendQuery(db.conn, path, withBattery(5, 200), { schema: EVOLVED });
    assert.ok(!(await readCommit(path, again.version)).some((a) => "metaData" in a));
    await appendQuery(db.conn, path, sensorRowsSql(7, 300), { schema: SENSOR_SCHEMA });
    // createTable with the old definition still opens the evolved table.
    const reopened = await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS });
    assert.equal(reopened.schema.fields.at(-1)!.name, "battery");

    const count = async (sql: string) =>
      (await db.conn.runAndReadAll(sql)).getRows()[0].map((v) => Number(v));
    const summary = (snap: Awaited<ReturnType<typeof loadSnapshot>>) =>
      count(`SELECT count(*), count(battery), sum(battery) FROM (${snapshotScanSql(snap)})`);
    const latest = await loadSnapshot(path); // replayed from checkpoint 3 + commits
    assert.deepEqual(await summary(latest), [72, 25, 219 + 101]);
    const old = await loadSnapshot(path, { version: before.version });
    assert.ok(!old.schema.fields.some((f) => f.name === "battery"));
    assert.deepEqual(
      await count(`SELECT count(*) FROM (${snapshotScanSql(old)})`),
      [40],
    );
    // Through a checkpoint written after the change, and after compacting old and new files.
    await writeCheckpoint(path);
    const fromCheckpoint = await loadSnapshot(path);
    assert.equal(fromCheckpoint.metadata.schemaString, latest.metadata.schemaString);
    const opt = await optimize(path, { conn: db.conn });
    assert.ok(opt.filesRemoved > 0);
    assert.deepEqual(await summary(await loadSnapshot(path)), await summary(latest));
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a commit racing a schema change loses and re-checks the metadata", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, { schema: SENSOR_SCHEMA, partitionColumns: PARTS });
  const db = await openDuckDB({ delta: false });
  try {
    const stale = await loadSnapshot(path);
    // Another writer adds the column first.
    await appendQuery(db.conn, path, withBattery(3, 0), { schema: EVOLVED });
    // A plain append prepared against the old version conflicts (the table's metadata changed).
    await assert.rejects(
      () => appendQuery(db.conn, path, sensorRowsSql(3, 10), { snapshot: stale }),
      CommitConflictError,
    );
    // A schema change prepared against the old version conflicts with any concurrent commit.
    await assert.rejects(
      () =>
        commit(path, [{ metaData: stale.metadata }], {
          readVersion: stale.version,
          operation: "X",
        }),
      CommitConflictError,
    );
    // The loser's retry re-reads: the column is there, so it commits rows only.
    const retry = await appendQuery(db.conn, path, withBattery(3, 10), { schema: EVOLVED });
    assert.ok(!(await readCommit(path, retry.version)).some((a) => "metaData" in a));
    const snap = await loadSnapshot(path);
    const rows = (await db.conn.runAndReadAll(
      `SELECT count(battery) FROM (${snapshotScanSql(snap)})`,
    )).getRows();
    assert.equal(Number(rows[0][0]), 6);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
