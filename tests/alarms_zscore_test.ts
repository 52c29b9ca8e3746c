/**
 * sql/alarms/zscore.sql screens 10-minute buckets before computing rolling medians; the screen
 * must never change the result. Compared here with the rule's plain definition (both rolling
 * windows over every reading) on a seeded day with injected anomalies and a steady synthetic
 * series with outliers.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadSnapshot } from "../src/delta/snapshot.ts";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { createAlarmReadings } from "../src/gold/alarms.ts";
import { loadAlarmTables } from "../src/gold/session.ts";
import { builtinCatalogue } from "../src/reading/catalogue_file.ts";
import { loadSql, runStatements } from "../src/query/sql_files.ts";
import { snapshotScanSql } from "../src/delta/scan.ts";
import { resolveFaults } from "../src/simulator/faults.ts";
import { type SilverRow, simulate, tempLakehouse, writeSilver } from "./gold_helpers.ts";

/** The rule by its definition: median and MAD of the trailing hour for every reading. */
const REFERENCE = `
WITH med AS (
  SELECT ts, device_id, building, floor, type, value, next_ts,
    median(value) OVER hour_before AS median, count(*) OVER hour_before AS n
  FROM alarm_readings
  WINDOW hour_before AS (PARTITION BY device_id, type ORDER BY ts
    RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING)
),
mad AS (
  SELECT *, median(abs(value - median)) OVER hour_before AS mad
  FROM med
  WINDOW hour_before AS (PARTITION BY device_id, type ORDER BY ts
    RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING)
),
z AS (
  SELECT m.*, abs(m.value - m.median)
    / greatest(1.4826 * m.mad, t.z_min_scale, t.z_min_scale_rel * abs(m.median), 1e-9) AS z
  FROM mad m JOIN alarm_thresholds t USING (type)
  WHERE m.n >= (SELECT value FROM alarm_settings WHERE rule = 'zscore' AND setting = 'min_readings')
)
SELECT 'zscore' AS rule, series_subject(device_id, type) AS subject, device_id, building, floor, type,
  ts, next_ts AS clear_ts,
  CASE WHEN z > (SELECT value FROM alarm_settings WHERE rule = 'zscore' AND setting = 'critical')
    THEN 2 ELSE 1 END AS level,
  value, z AS score,
  (SELECT value FROM alarm_settings WHERE rule = 'zscore' AND setting = 'limit') AS threshold,
  (SELECT value FROM alarm_settings WHERE rule = 'zscore' AND setting = 'min_duration_s')
    AS min_duration_s
FROM z
WHERE z > (SELECT value FROM alarm_settings WHERE rule = 'zscore' AND setting = 'limit')`;

Deno.test("alarms: zscore's bucket screen gives exactly the rule's definition", async () => {
  const lh = await tempLakehouse();
  try {
    const start = Date.UTC(2025, 0, 6);
    const common = { seed: 5, intervalSeconds: 30, topology: { buildings: 1, floors: 2 } };
    const clean = simulate({ ...common, start, durationSeconds: 6 * 3600, faults: "none" });
    const faulty = simulate({
      ...common,
      start: start + 6 * 3_600_000,
      durationSeconds: 18 * 3600,
      faults: resolveFaults("anomalies", ""),
    });
    // A steady humidity series with isolated outliers of growing size (z from ~1 to ~12).
    const steady: SilverRow[] = [];
    for (let i = 0; i < 2880; i++) {
      const t = start + i * 30_000;
      const outlier = i > 200 && i % 97 === 0 ? (i % 12) * 1.5 : 0;
      steady.push({
        timestamp: t,
        device_id: "Z-F0-humidity-01",
        building: "Z",
        floor: 0,
        type: "humidity",
        value: 45 + (i % 2 ? 0.3 : -0.3) + outlier,
      });
    }
    await writeSilver(lh, [...clean.rows, ...faulty.rows, ...steady]);

    const silver = await loadSnapshot(join(lh, "silver"));
    const db = await openDuckDB({ delta: false });
    try {
      const run = (sql: string) => runStatements(db.conn, sql);
      await run(await loadSql("gold/_macros.sql"));
      await loadAlarmTables(db.conn, builtinCatalogue());
      await createAlarmReadings(db.conn, { silverSql: snapshotScanSql(silver) });
      await db.conn.run(`CREATE TEMP TABLE screened AS ${await loadSql("alarms/zscore.sql")}`);
      await db.conn.run(`CREATE TEMP TABLE reference AS ${REFERENCE}`);
      const [[total, onlyScreened, onlyReference, steadyHits]] = (await db.conn.runAndReadAll(
        `SELECT (SELECT count(*) FROM reference),
           (SELECT count(*) FROM (SELECT * FROM screened EXCEPT ALL SELECT * FROM reference)),
           (SELECT count(*) FROM (SELECT * FROM reference EXCEPT ALL SELECT * FROM screened)),
           (SELECT count(*) FROM reference WHERE device_id = 'Z-F0-humidity-01')`,
      )).getRows().map((r) => r.map(Number));
      assert.ok(total > 20 && steadyHits > 5, `too few violations to compare: ${total}`);
      assert.equal(onlyScreened, 0);
      assert.equal(onlyReference, 0);
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(lh, { recursive: true });
  }
});
