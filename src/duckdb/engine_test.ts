/**
 * The engine's quoting and read-only guard, without a lakehouse: these are what keep a path,
 * a name or a user's SQL from writing files, so they are checked on their own.
 */
import assert from "node:assert/strict";
import { StatementType } from "@duckdb/node-api";
import {
  assertReadOnlyStatement,
  openDuckDB,
  ReadOnlyError,
  sqlIdent,
  sqlString,
} from "./engine.ts";

Deno.test("sqlString and sqlIdent: quotes doubled, round-trip through DuckDB unchanged", async () => {
  assert.equal(sqlString("it's"), "'it''s'");
  assert.equal(sqlIdent('a "b"'), '"a ""b"""');
  const db = await openDuckDB({ delta: false });
  try {
    const nasty = `x'); DROP TABLE t; --"\n\\ é`;
    const r = await db.conn.runAndReadAll(
      `SELECT ${sqlString(nasty)} AS ${sqlIdent(`col "${nasty}"`)}`,
    );
    assert.deepEqual(r.columnNames(), [`col "${nasty}"`]);
    assert.equal(r.getRows()[0][0], nasty);
  } finally {
    db.close();
  }
});

Deno.test("assertReadOnlyStatement: writing statements refused, EXPLAIN ANALYZE of one too", () => {
  for (
    const [type, sql] of [
      [StatementType.COPY, "COPY t TO 'x.csv'"],
      [StatementType.EXPORT, "EXPORT DATABASE 'd'"],
      [StatementType.ATTACH, "ATTACH 'x.db'"],
      [StatementType.LOAD, "INSTALL httpfs"],
      [StatementType.EXPLAIN, "EXPLAIN ANALYZE COPY t TO 'x.csv'"],
      [StatementType.EXPLAIN, "explain analyse\n  attach 'x.db'"],
    ] as const
  ) {
    assert.throws(() => assertReadOnlyStatement(type, sql), ReadOnlyError, sql);
  }
  for (
    const [type, sql] of [
      [StatementType.SELECT, "SELECT 'COPY t TO x'"],
      [StatementType.EXPLAIN, "EXPLAIN COPY t TO 'x.csv'"], // plans, does not run
      [StatementType.EXPLAIN, "EXPLAIN ANALYZE SELECT 1"],
      [StatementType.PRAGMA, "PRAGMA version"],
    ] as const
  ) {
    assertReadOnlyStatement(type, sql);
  }
});

Deno.test("assertReadOnlyStatement: what a prepared user statement reports is what is checked", async () => {
  const db = await openDuckDB({ delta: false });
  try {
    const check = async (sql: string) => {
      const p = await db.conn.prepare(sql);
      assertReadOnlyStatement(p.statementType, sql);
    };
    await check("SELECT 42");
    await assert.rejects(() => check("COPY (SELECT 1) TO '/tmp/never.csv'"), ReadOnlyError);
  } finally {
    db.close();
  }
});
