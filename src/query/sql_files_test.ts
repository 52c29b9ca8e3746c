import assert from "node:assert/strict";
import { openDuckDB } from "../duckdb/engine.ts";
import { fillSql, loadSql, placeholders, runStatements, SqlFileError } from "./sql_files.ts";

Deno.test("runStatements: a comment or a string ending in ; is not the end of a statement", async () => {
  const db = await openDuckDB({ delta: false });
  try {
    await runStatements(
      db.conn,
      `-- a header comment that ends like a statement;
CREATE TEMP TABLE t AS
  SELECT 1 AS a  -- an inline comment ending in ;
  UNION ALL SELECT 2;
INSERT INTO t SELECT length('x;
y;');
`,
    );
    const rows = (await db.conn.runAndReadAll("SELECT a FROM t ORDER BY a")).getRows();
    assert.deepEqual(rows.map((r) => Number(r[0])), [1, 2, 5]);
  } finally {
    db.close();
  }
});

Deno.test("runStatements: the multi-statement files under sql/ load", async () => {
  const db = await openDuckDB({ delta: false });
  try {
    // thresholds.sql holds several statements; _macros.sql too, with header comments.
    await runStatements(db.conn, await loadSql("gold/_macros.sql"));
    await runStatements(db.conn, await loadSql("alarms/thresholds.sql"));
    const rows = (await db.conn.runAndReadAll("SELECT count(*) FROM alarm_settings")).getRows();
    assert.ok(Number(rows[0][0]) > 0);
  } finally {
    db.close();
  }
});

Deno.test("runStatements: a syntax error is a SqlFileError with DuckDB's message", async () => {
  const db = await openDuckDB({ delta: false });
  try {
    await assert.rejects(
      runStatements(db.conn, "SELECT 1; SELEC 2;"),
      (err: Error) => err instanceof SqlFileError && /syntax error/i.test(err.message),
    );
  } finally {
    db.close();
  }
});

Deno.test("fillSql: placeholders in comments are left alone; missing and unused values refused", () => {
  const sql = "-- {{doc_only}}\nSELECT {{a}} -- {{b}}\n";
  assert.deepEqual([...placeholders(sql)], ["a"]);
  assert.equal(fillSql(sql, { a: "1" }), "-- {{doc_only}}\nSELECT 1 -- {{b}}\n");
  assert.throws(() => fillSql(sql, {}), /needs values for \{\{a\}\}/);
  assert.throws(() => fillSql(sql, { a: "1", c: "2" }), /no placeholder \{\{c\}\}/);
});
