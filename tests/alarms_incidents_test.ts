/**
 * Incidents (sql/alarms/_incidents.sql) over hand-made alarm episodes, straight in DuckDB: a
 * three-rule episode is one incident, an escalation warning → critical is one incident, the
 * gap that makes episodes adjacent, hysteresis on clearing, building-level series, and the
 * worst episode's peak and threshold with their units.
 */
import assert from "node:assert/strict";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { loadAlarmTables } from "../src/gold/session.ts";
import { loadSql, runStatements } from "../src/query/sql_files.ts";
import { builtinCatalogue } from "../src/reading/catalogue_file.ts";

interface Episode {
  rule: string;
  severity?: string;
  device_id?: string | null;
  building?: string;
  type?: string;
  start: string;
  end: string | null;
  peak?: number;
  threshold?: number;
}

interface Incident {
  severity: string;
  device_id: string | null;
  type: string;
  rules: string;
  episodes: number;
  started_at: string;
  ended_at: string | null;
  peak_value: number;
  peak_unit: string;
  threshold: number;
  threshold_unit: string;
  threshold_rule: string;
}

const ts = (hm: string | null) => hm === null ? "NULL" : `'2025-01-13 ${hm}:00+00'::TIMESTAMPTZ`;
const str = (s: string | null | undefined) => s == null ? "NULL::VARCHAR" : `'${s}'`;

/** Incidents of `episodes`, with the device's last reading at `lastSeen`. */
async function incidents(episodes: Episode[], lastSeen: string): Promise<Incident[]> {
  const db = await openDuckDB({ delta: false });
  try {
    await runStatements(db.conn, await loadSql("gold/_macros.sql"));
    await loadAlarmTables(db.conn, builtinCatalogue());
    const rows = episodes.map((e, i) =>
      `(${str(`a${i}`)}, ${str(e.rule)}, ${str(e.severity ?? "warning")}, ${
        str(e.device_id === undefined ? "d1" : e.device_id)
      }, ${str(e.building ?? "B")}, 1, ${str(e.type ?? "temperature")}, ${ts(e.start)}, ${
        ts(e.end)
      }, ${e.peak ?? 0}::DOUBLE, 1, ${e.threshold ?? 0}::DOUBLE)`
    );
    await db.conn.run(
      `CREATE TEMP TABLE alarms AS SELECT * FROM (VALUES ${rows.join(", ")}) AS t(alarm_id, rule,
         severity, device_id, building, floor, type, started_at, ended_at, peak_value, readings,
         threshold)`,
    );
    await db.conn.run(
      `CREATE TEMP TABLE health AS SELECT * FROM (VALUES ('d1', 'B', ${ts(lastSeen)}),
         ('d2', 'B', ${ts(lastSeen)})) AS t(device_id, building, last_seen)`,
    );
    const sql = await loadSql("alarms/_incidents.sql", {
      alarms: "alarms",
      device_health: "health",
    });
    const out = await db.conn.runAndReadAll(
      `SELECT severity, device_id, type, rules, episodes::INTEGER AS episodes,
         strftime(started_at, '%H:%M') AS started_at, strftime(ended_at, '%H:%M') AS ended_at,
         peak_value, peak_unit, threshold, threshold_unit, threshold_rule
       FROM (${sql}) ORDER BY device_id, type, started_at`,
    );
    return out.getRowObjectsJson() as unknown as Incident[];
  } finally {
    db.close();
  }
}

Deno.test("incidents: one fault tripping three rules is one incident", async () => {
  const got = await incidents([
    { rule: "spike", start: "09:00", end: "09:02", peak: 35, threshold: 3 },
    { rule: "threshold", start: "09:00", end: "09:06", peak: 34, threshold: 28 },
    { rule: "zscore", start: "09:01", end: "09:03", peak: 35, threshold: 4 },
  ], "10:00");
  assert.equal(got.length, 1);
  assert.deepEqual(got[0], {
    severity: "warning",
    device_id: "d1",
    type: "temperature",
    rules: "spike,threshold,zscore",
    episodes: 3,
    started_at: "09:00",
    ended_at: "09:06",
    peak_value: 34,
    peak_unit: "C",
    threshold: 28,
    threshold_unit: "C",
    threshold_rule: "threshold",
  });
});

Deno.test("incidents: an escalation warning → critical stays one incident", async () => {
  const got = await incidents([
    { rule: "threshold", start: "09:00", end: "09:20", peak: 1200, threshold: 1000, type: "co2" },
    { rule: "spike", start: "09:10", end: "09:12", peak: 1900, threshold: 500, type: "co2" },
    {
      rule: "zscore",
      severity: "critical",
      start: "09:10",
      end: "09:11",
      peak: 1900,
      threshold: 4,
      type: "co2",
    },
  ], "09:40");
  assert.equal(got.length, 1);
  assert.equal(got[0].severity, "critical");
  assert.equal(got[0].rules, "spike,threshold,zscore");
  // The worst episode is the critical one: a z-score limit, said to be one.
  assert.deepEqual(
    [got[0].peak_value, got[0].peak_unit, got[0].threshold, got[0].threshold_unit],
    [1900, "ppm", 4, "z"],
  );
});

Deno.test("incidents: adjacent means at most gap_s (10 min) apart; clearing waits for gap_s of data", async () => {
  const eps: Episode[] = [
    { rule: "spike", start: "09:00", end: "09:01" },
    { rule: "spike", start: "09:11", end: "09:12" }, // 10 min after: adjacent
    { rule: "zscore", start: "09:22", end: "09:23" }, // 10 min 00 s after 09:12: adjacent
    { rule: "spike", start: "09:34", end: "09:35" }, // 11 min after: a new incident
    { rule: "flatline", device_id: "d2", start: "09:00", end: null, peak: 21, threshold: 600 },
    { rule: "flatline", device_id: "d2", start: "09:05", end: "09:30" }, // within an open one
  ];
  const got = await incidents(eps, "09:44");
  assert.deepEqual(got.map((i) => [i.device_id, i.rules, i.started_at, i.ended_at]), [
    ["d1", "spike,zscore", "09:00", "09:23"],
    // Data is 9 min past its end: a relapse could still join it, so it is still open.
    ["d1", "spike", "09:34", null],
    ["d2", "flatline", "09:00", null],
  ]);
  assert.equal(got[2].episodes, 2);
  assert.deepEqual([got[2].peak_unit, got[2].threshold_unit], ["C", "s"]);
  const later = await incidents(eps, "09:45");
  assert.equal(later[1].ended_at, "09:35");
});

Deno.test("incidents: a building-level rule is its own series, cleared by the building's data", async () => {
  const got = await incidents([
    {
      rule: "energy_baseline",
      device_id: null,
      type: "energy",
      start: "09:00",
      end: "09:15",
      peak: 2.6,
      threshold: 2,
    },
    {
      rule: "energy_baseline",
      device_id: null,
      type: "energy",
      severity: "critical",
      start: "09:25",
      end: "09:45",
      peak: 3.4,
      threshold: 2,
    },
  ], "10:00");
  assert.deepEqual(got.map((i) => [i.device_id, i.severity, i.started_at, i.ended_at]), [
    [null, "critical", "09:00", "09:45"],
  ]);
  assert.deepEqual([got[0].peak_value, got[0].peak_unit, got[0].threshold_unit], [
    3.4,
    "x baseline",
    "x baseline",
  ]);
});
