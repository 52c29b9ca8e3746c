/**
 * A fifth sensor type from the catalogue (pm25 in examples/sensors_demo.yaml) through gold,
 * alarms, incidents, scoring and the dashboard, with no code naming it: its `thresholds:` raise
 * a critical band alarm (and nothing under the built-in catalogue, which does not know it),
 * incidents carry its unit, `deno task gold/score --sensors` use the file, and the dashboard
 * gives it a column, a chart and a band. Also: a bad --sensors file is one FILE:LINE error,
 * exit 2, before anything is read.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DashboardModel } from "../src/dashboard/model.ts";
import { loadSnapshot } from "../src/delta/snapshot.ts";
import { snapshotScanSql } from "../src/delta/scan.ts";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { refreshGold } from "../src/gold/refresh.ts";
import { goldTablePath } from "../src/gold/tables.ts";
import { typeNames } from "../src/reading/catalogue.ts";
import { loadCatalogue } from "../src/reading/catalogue_file.ts";
import { countByType, readIncidents } from "../src/simulator/scoring.ts";
import { ROOT, runTask } from "../src/tasks.ts";
import { type SilverRow, tempLakehouse, writeSilver } from "./gold_helpers.ts";

const DEMO_CATALOGUE = join(ROOT, "examples", "sensors_demo.yaml");
const START = Date.UTC(2025, 0, 6, 9);

/**
 * One floor for an hour at 30 s: a temperature in band and a PM2.5 sensor at ~12 µg/m³ with,
 * from minute 30 to 42, a plateau at 80 (critical: > 75 for 12 min ≥ min_duration_s 300).
 */
function rows(): SilverRow[] {
  const out: SilverRow[] = [];
  for (let i = 0; i < 120; i++) {
    const timestamp = START + i * 30_000;
    const wobble = (i % 4) * 0.25;
    out.push({
      timestamp,
      device_id: "A-F0-temperature-01",
      building: "A",
      floor: 0,
      type: "temperature",
      value: 21.5 + wobble,
    });
    const plateau = i >= 60 && i < 84;
    out.push({
      timestamp,
      device_id: "A-F0-pm25-01",
      building: "A",
      floor: 0,
      type: "pm25",
      value: plateau ? 80 + wobble : 12 + wobble,
      unit: "ug/m3",
    });
  }
  return out;
}

async function goldRows(lh: string, table: string, where = "true") {
  const snap = await loadSnapshot(goldTablePath(lh, table), { tombstones: false });
  const db = await openDuckDB({ delta: false });
  try {
    return (await db.conn.runAndReadAll(
      `SELECT * EXCLUDE (started_at, ended_at), strftime(started_at, '%H:%M') AS started
       FROM (${snapshotScanSql(snap)}) WHERE ${where} ORDER BY ALL`,
    )).getRowObjectsJson();
  } finally {
    db.close();
  }
}

Deno.test("catalogue: a fifth type's thresholds alarm through gold, score and dashboard", async (t) => {
  const lh = await tempLakehouse("catalogue-gold-");
  try {
    const catalogue = await loadCatalogue(DEMO_CATALOGUE);
    await writeSilver(lh, rows());

    await t.step("the built-in catalogue does not know pm25: no alarm on it", async () => {
      await refreshGold(lh, { full: true, threads: 1 });
      assert.deepEqual(await goldRows(lh, "alarms", "type = 'pm25'"), []);
    });

    await t.step(
      "with pm25's thresholds: its band, spike and z-score alarms, one incident in ug/m3",
      async () => {
        await refreshGold(lh, { full: true, threads: 1, catalogue });
        const alarms = await goldRows(lh, "alarms", "type = 'pm25'");
        // Every rule with a pm25 parameter: the band (critical above 75 for 12 min), the spike
        // (a jump of 68 > max_step 60, up and back down) and the z-score (z_min_scale 2).
        assert.deepEqual(
          alarms.map((a) => `${a.rule} ${a.severity} ${a.threshold} ${a.started}`).sort(),
          [
            "spike warning 60 09:30",
            "spike warning 60 09:42",
            "threshold critical 75 09:30",
            "zscore critical 4 09:30",
          ],
        );
        const band = alarms.find((a) => a.rule === "threshold")!;
        assert.equal(band.peak_value, 80.75);
        assert.equal(band.readings, "24");
        const incidents = await goldRows(lh, "incidents", "type = 'pm25'");
        assert.equal(incidents.length, 1, JSON.stringify(incidents));
        assert.equal(incidents[0].severity, "critical");
        assert.equal(incidents[0].rules, "spike,threshold,zscore");
        assert.equal(incidents[0].threshold_rule, "threshold");
        assert.equal(incidents[0].peak_unit, "ug/m3");
        assert.equal(incidents[0].threshold_unit, "ug/m3");
        // The temperature in band raises nothing.
        assert.deepEqual(await goldRows(lh, "alarms", "type = 'temperature'"), []);
      },
    );

    await t.step("score counts incidents per catalogue type, pm25 included", async () => {
      const byType = countByType(await readIncidents(lh), typeNames(catalogue));
      assert.deepEqual(byType, [
        ["temperature", 0],
        ["humidity", 0],
        ["co2", 0],
        ["energy", 0],
        ["pm25", 1],
      ]);
    });

    await t.step("dashboard: a pm25 column, chart, unit and band", async () => {
      const model = await DashboardModel.open(lh, undefined, catalogue);
      try {
        const key = { building: "A", range: "hour" } as const;
        await model.refresh(() => [key]);
        const state = JSON.parse(model.state.json);
        assert.deepEqual(
          state.types.map((x: { type: string; unit: string }) => `${x.type} ${x.unit}`),
          ["temperature °C", "humidity %", "co2 ppm", "energy kWh", "pm25 ug/m3"],
        );
        assert.deepEqual(state.thresholds.pm25, {
          warnLow: null,
          warnHigh: 35,
          critLow: null,
          critHigh: 75,
        });
        const cell = state.overview.find((r: { type: string }) => r.type === "pm25");
        // The newest pm25 reading (after the plateau) is inside its warning band: good.
        assert.equal(cell.band, "good");
        assert.equal(cell.unit, "ug/m3");
        const temperature = state.overview.find((r: { type: string }) => r.type === "temperature");
        assert.equal(temperature.band, "good");
        const charts = JSON.parse(model.series(key)!.json).charts;
        assert.deepEqual(
          charts.map((c: { type: string; unit: string }) => `${c.type} ${c.unit}`),
          ["temperature °C", "humidity %", "co2 ppm", "energy kW", "pm25 ug/m3"],
        );
        const pm25 = charts.find((c: { type: string }) => c.type === "pm25");
        assert.ok(pm25.values[0].some((v: number | null) => v !== null && v > 75));
      } finally {
        model.close();
      }
    });

    await t.step("deno task gold and score take --sensors", async () => {
      const gold = await runTask("gold", [
        "--lakehouse",
        lh,
        "--full",
        "--sensors",
        DEMO_CATALOGUE,
      ]);
      assert.equal(gold.code, 0, gold.stderr);
      const truth = join(lh, "truth.ndjson");
      await Deno.writeTextFile(truth, "");
      const score = await runTask("score", [
        "--lakehouse",
        lh,
        "--truth",
        truth,
        "--sensors",
        DEMO_CATALOGUE,
      ]);
      assert.equal(score.code, 0, score.stderr);
      assert.match(
        score.stdout,
        /by type \(incidents\): temperature 0, humidity 0, co2 0, energy 0, pm25 1/,
      );
    });

    await t.step("a bad --sensors file: FILE:LINE, exit 2, gold untouched", async () => {
      const bad = join(lh, "bad.yaml");
      await Deno.writeTextFile(bad, "types:\n  pm25:\n    unit: ug/m3\n    colour: blue\n");
      const before = (await loadSnapshot(goldTablePath(lh, "alarms"))).version;
      const gold = await runTask("gold", ["--lakehouse", lh, "--full", "--sensors", bad]);
      assert.equal(gold.code, 2, gold.stderr);
      assert.match(gold.stderr, new RegExp(`${bad}:4: `));
      assert.equal((await loadSnapshot(goldTablePath(lh, "alarms"))).version, before);
    });
  } finally {
    await Deno.remove(lh, { recursive: true });
  }
});
