/**
 * Alarm quality against the simulator's truth: one building (2 floors, 8 devices, 30 s
 * readings), a clean week (profile none: the energy baseline, and where any alarm is false)
 * followed by a 12-hour working day with injected anomalies (profile anomalies, energy_high
 * raised so the day has some). Written straight into silver, no Kafka.
 * Requires >= 95 % of injected episodes detected and <= 5 % of all alarms false.
 */
import assert from "node:assert/strict";
import { refreshGold } from "../src/gold/refresh.ts";
import {
  readAlarms,
  readIncidents,
  scoreAlarms,
  scoreIncidents,
} from "../src/simulator/scoring.ts";
import { resolveFaults } from "../src/simulator/faults.ts";
import { simulate, tempLakehouse, writeSilver } from "./gold_helpers.ts";

Deno.test("alarms: seeded scenario scores >= 95 % detection, <= 5 % false alarms", async () => {
  const lh = await tempLakehouse();
  try {
    const start = Date.UTC(2025, 0, 6); // Monday
    const anomalyStart = start + 7 * 86_400_000 + 6 * 3_600_000;
    const common = { seed: 11, intervalSeconds: 30, topology: { buildings: 1, floors: 2 } };
    const clean = simulate({ ...common, start, durationSeconds: 7 * 86_400, faults: "none" });
    const day = simulate({
      ...common,
      start: anomalyStart,
      durationSeconds: 12 * 3600,
      faults: resolveFaults("anomalies", "energy_high=0.3"),
    });
    await writeSilver(lh, clean.rows);
    await writeSilver(lh, day.rows);
    await refreshGold(lh);

    const alarms = await readAlarms(lh);
    const score = scoreAlarms(alarms, day.episodes);
    const cleanAlarms = alarms.filter((a) => a.started_at < anomalyStart);
    const summary = {
      episodes: score.episodes,
      detected: score.detected,
      detection: `${(100 * score.detectionRate).toFixed(1)} %`,
      alarms: score.alarms,
      falseAlarms: score.falseAlarms,
      falseAlarmRate: `${(100 * score.falseAlarmRate).toFixed(1)} %`,
      cleanWeekAlarms: cleanAlarms.length,
      byKind: score.byKind,
      missed: score.missed.map((e) => `${e.kind} ${e.device_id} ${e.start}..${e.end}`),
    };
    const incidents = scoreIncidents(await readIncidents(lh), day.episodes);
    console.log(JSON.stringify({
      ...summary,
      incidents: incidents.incidents,
      incidentRecall: `${(100 * incidents.recall).toFixed(1)} %`,
      falseIncidents: incidents.falseIncidents,
    }));
    assert.ok(score.episodes >= 20, `scenario too small: ${score.episodes} episodes`);
    assert.ok(score.detectionRate >= 0.95, JSON.stringify(summary));
    assert.ok(score.falseAlarmRate <= 0.05, JSON.stringify(summary));
    // Incidents find what the alarms find, in fewer rows.
    assert.equal(incidents.detected, score.detected);
    assert.ok(incidents.incidents < score.alarms, `${incidents.incidents} incidents`);
    assert.ok(incidents.falseIncidentRate <= 0.05, JSON.stringify(incidents.falseIncidentList));
  } finally {
    await Deno.remove(lh, { recursive: true });
  }
});
