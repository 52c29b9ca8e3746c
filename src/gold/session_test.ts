import assert from "node:assert/strict";
import { builtinCatalogue } from "../reading/catalogue_file.ts";
import { GoldSession } from "./session.ts";

/** The connection's temp tables and views and the refresh ENUM types, sorted. */
async function objects(conn: import("@duckdb/node-api").DuckDBConnection): Promise<string[]> {
  const rows = (await conn.runAndReadAll(
    `SELECT table_name FROM duckdb_tables() WHERE temporary
     UNION ALL SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal
     UNION ALL SELECT type_name FROM duckdb_types() WHERE type_name LIKE 'gold_%'`,
  )).getRows();
  return rows.map((r) => String(r[0])).sort();
}

Deno.test("session: one DuckDB across refreshes; what a refresh created is gone at the next", async () => {
  const session = new GoldSession({ threads: 1 });
  const catalogue = builtinCatalogue();
  try {
    const first = await session.acquire("/tmp/lakehouse/silver", catalogue);
    const setUp = await objects(first.conn);
    assert.ok(setUp.includes("alarm_settings") && setUp.includes("alarm_thresholds"), `${setUp}`);
    await assert.rejects(session.acquire("/tmp/lakehouse/silver", catalogue), /one refresh/);
    await first.conn.run("CREATE TYPE gold_device_0 AS ENUM ('a', 'b')");
    await first.conn.run(
      "CREATE TEMP TABLE alarm_readings AS SELECT 'a'::gold_device_0 AS device_id",
    );
    await first.conn.run("CREATE TEMP VIEW alarm_violations AS SELECT * FROM alarm_readings");
    await first.release(false);
    const second = await session.acquire("/tmp/lakehouse/silver", catalogue);
    assert.equal(second.conn, first.conn);
    assert.deepEqual(await objects(second.conn), setUp);
    // The same names again: a refresh numbers its types from 0.
    await second.conn.run("CREATE TYPE gold_device_0 AS ENUM ('c')");
    await second.release(true);
    // A failed refresh closes DuckDB; the next opens a fresh one, set up again.
    const third = await session.acquire("/tmp/lakehouse/silver", catalogue);
    assert.notEqual(third.conn, first.conn);
    assert.deepEqual(await objects(third.conn), setUp);
    assert.equal(session.opened, 2);
    await third.release(false);
  } finally {
    session.close();
  }
});

Deno.test("session: a refresh that leaves the process above recycleAboveRssBytes closes DuckDB", async () => {
  const catalogue = builtinCatalogue();
  const low = new GoldSession({ threads: 1, recycleAboveRssBytes: 1 });
  const high = new GoldSession({ threads: 1, recycleAboveRssBytes: 1e15 });
  try {
    for (let i = 0; i < 2; i++) {
      await (await low.acquire("/tmp/lakehouse/silver", catalogue)).release(false);
      await (await high.acquire("/tmp/lakehouse/silver", catalogue)).release(false);
    }
    assert.equal(low.opened, 2);
    assert.equal(high.opened, 1);
  } finally {
    low.close();
    high.close();
  }
});
