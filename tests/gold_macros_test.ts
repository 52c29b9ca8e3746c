/**
 * The helpers of sql/gold/_macros.sql give exactly what the DuckDB built-ins they replace give:
 * UTC buckets and minute numbers as date_trunc / time_bucket / CAST AS DATE (in the UTC session
 * every reader uses), and list_quantile as quantile_cont, bit for bit, over unordered and rolled-up lists.
 */
import assert from "node:assert/strict";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { loadSql, runStatements } from "../src/query/sql_files.ts";

async function withMacros(fn: (q: (sql: string) => Promise<unknown[][]>) => Promise<void>) {
  const db = await openDuckDB({ delta: false });
  try {
    await runStatements(db.conn, await loadSql("gold/_macros.sql"));
    await fn(async (sql) => (await db.conn.runAndReadAll(sql)).getRows());
  } finally {
    db.close();
  }
}

Deno.test("gold macros: UTC buckets equal date_trunc / time_bucket / CAST AS DATE", async () => {
  await withMacros(async (q) => {
    const rows = await q(`
      WITH ts AS (
        SELECT unnest([
          TIMESTAMPTZ '2025-01-06 00:00:00+00', TIMESTAMPTZ '2025-01-06 23:59:59.999999+00',
          TIMESTAMPTZ '2025-01-07 00:00:00.000001+00', TIMESTAMPTZ '1969-12-31 23:59:30.5+00',
          TIMESTAMPTZ '1950-06-01 12:34:56.789+00', TIMESTAMPTZ '2100-02-28 23:59:59+00'
        ]) AS t
        UNION ALL
        SELECT make_timestamptz(CAST(hash(i) % 4000000000000000 AS BIGINT) - 1000000000000000)
        FROM range(20000) r(i)
      )
      SELECT count(*),
        count(*) FILTER (WHERE utc_minute(t) <> date_trunc('minute', t)),
        count(*) FILTER (WHERE utc_hour(t) <> date_trunc('hour', t)),
        count(*) FILTER (WHERE utc_bucket(t, 900) <> time_bucket(INTERVAL 15 MINUTE, t)),
        count(*) FILTER (WHERE utc_bucket(t, 600) <> time_bucket(INTERVAL 10 MINUTE, t)),
        count(*) FILTER (WHERE utc_day(t) <> CAST(t AS DATE)),
        -- minute numbers: silver holds no time before 1970
        count(*) FILTER (WHERE t >= TIMESTAMPTZ '1970-01-01 00:00:00+00' AND (
          minute_start(epoch_minute(t)) <> date_trunc('minute', t)
          OR minute_day(epoch_minute(t)) <> CAST(t AS DATE)))
      FROM ts`);
    assert.deepEqual(rows[0].map(Number), [20006, 0, 0, 0, 0, 0, 0]);
  });
});

Deno.test("gold macros: list_quantile equals quantile_cont bit for bit", async () => {
  await withMacros(async (q) => {
    const rows = await q(`
      WITH v AS (
        -- group g holds 1 + g % 200 pseudo-random values, in sub-groups of up to 7 (as
        -- device-minutes are rolled up into floors and hours)
        SELECT g, k % 7 AS sub, (hash(g * 1000 + k) % 100000) / 7.0 - 5000 AS x
        FROM range(1000) a(g), LATERAL (SELECT * FROM range(1 + g % 200)) b(k)
      ),
      subs AS (SELECT g, sub, list(x) AS l FROM v GROUP BY g, sub),
      rolled AS (SELECT g, flatten(list(l)) AS l FROM subs GROUP BY g),
      g AS (
        SELECT g, list(x) AS l,
          quantile_cont(x, 0.95) AS q95, quantile_cont(x, 0.5) AS q50,
          quantile_cont(x, 0.37) AS q37, quantile_cont(x, 0.0) AS q0, quantile_cont(x, 1.0) AS q1
        FROM v GROUP BY g
      )
      SELECT count(*), min(len(g.l)), max(len(g.l)),
        count(*) FILTER (WHERE list_quantile(g.l, 0.95) IS DISTINCT FROM q95
          OR list_quantile(g.l, 0.5) IS DISTINCT FROM q50
          OR list_quantile(g.l, 0.37) IS DISTINCT FROM q37
          OR list_quantile(g.l, 0.0) IS DISTINCT FROM q0
          OR list_quantile(g.l, 1.0) IS DISTINCT FROM q1
          OR list_quantile(rolled.l, 0.95) IS DISTINCT FROM q95)
      FROM g JOIN rolled USING (g)`);
    const [groups, smallest, largest, different] = rows[0].map(Number);
    assert.ok(
      groups === 1000 && smallest === 1 && largest === 200,
      `${groups} ${smallest} ${largest}`,
    );
    assert.equal(different, 0);
    const fixed = await q(
      `SELECT list_quantile([22, 20]::DOUBLE[], 0.95),
         round(list_quantile([24, 20, 22]::DOUBLE[], 0.95), 9)`,
    );
    assert.deepEqual(fixed[0], [21.9, 23.8]);
  });
});
