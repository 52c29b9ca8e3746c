/**
 * Each alarm rule on a crafted series (one device per rule, 30 s readings, 08:00–11:00 UTC),
 * including episode merging within the hold time, minimum durations, hysteresis on clearing,
 * open episodes and the building-level energy baseline.
 */
import assert from "node:assert/strict";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { refreshGold } from "../src/gold/refresh.ts";
import { goldTablePath } from "../src/gold/tables.ts";
import { deltaScanSql } from "../src/query/views.ts";
import { type SilverRow, tempLakehouse, writeSilver } from "./gold_helpers.ts";

const DAY = Date.UTC(2025, 0, 13); // a Monday
const at = (hm: string, day = DAY) => day + Date.parse(`1970-01-01T${hm}Z`);
const iso = (hm: string) => new Date(at(hm)).toISOString().replace(".000Z", "Z");

/** 30-second series from 08:00 to 11:00 with value(t) (null = no reading). */
function series(
  device: string,
  type: string,
  floor: number,
  value: (t: number) => number | null,
  day = DAY,
  until = "11:00:00",
): SilverRow[] {
  const out: SilverRow[] = [];
  for (let t = at("08:00:00", day); t < at(until, day); t += 30_000) {
    const v = value(t);
    if (v !== null) {
      out.push({ timestamp: t, device_id: device, building: "B", floor, type, value: v });
    }
  }
  return out;
}

const within = (t: number, from: string, to: string) => t >= at(from) && t < at(to);
const wobble = (t: number, a: number) => ((t / 30_000) % 2 === 0 ? a : -a);

interface AlarmOut {
  rule: string;
  severity: string;
  device_id: string | null;
  type: string;
  started_at: string;
  ended_at: string | null;
  peak_value: number;
  readings: number;
}

Deno.test("alarms: every rule on a crafted series", async () => {
  const lh = await tempLakehouse();
  try {
    const co2 = series("B-F0-co2-01", "co2", 0, (t) => {
      if (within(t, "08:30:00", "08:40:00")) return t === at("08:35:00") ? 900 : 1200; // dip < hold
      if (within(t, "09:00:00", "09:03:00")) return 1600; // too short
      if (within(t, "09:30:00", "09:45:00")) return 1600; // critical
      if (t >= at("10:50:00")) return 1300; // still open at the end
      return 600 + wobble(t, 2);
    });
    const temp = series("B-F0-temperature-01", "temperature", 0, (t) => {
      if (t === at("09:00:00") || t === at("09:01:00")) return 35; // two spikes < hold apart
      return 21 + wobble(t, 0.05);
    });
    const hum = series("B-F0-humidity-01", "humidity", 0, (t) => {
      if (t === at("09:30:00")) return 53; // z ≈ 5 (scale floor 1.5), step 8 < max_step 10
      return 45 + wobble(t, 0.5);
    });
    const flat = series("B-F1-temperature-01", "temperature", 1, (t) => {
      if (within(t, "09:00:00", "09:15:00")) return 21.5; // 14.5 min flat
      if (within(t, "10:00:00", "10:05:00")) return 21.7; // 4.5 min: too short
      return 21 + wobble(t, 0.05);
    });
    const quiet = series("B-F1-co2-01", "co2", 1, (t) => {
      if (within(t, "09:00:00", "09:10:00")) return null; // 10.5 min gap
      if (within(t, "09:30:00", "09:31:30")) return null; // 2 min gap: under 5 x 30 s
      if (t >= at("10:30:00")) return null; // stops for good
      return 500 + wobble(t, 3);
    });
    const lastWeek = DAY - 7 * 86_400_000;
    const energy = [
      ...series("B-F0-energy-01", "energy", 0, (t) => 0.1 + wobble(t, 0.001), lastWeek),
      ...series("B-F0-energy-01", "energy", 0, (t) => {
        return (within(t, "09:00:00", "09:30:00") ? 0.25 : 0.1) + wobble(t, 0.001);
      }),
    ];
    // One device reporting two types (a combined sensor) must get exactly the alarms of two
    // single-type sensors with the same readings: two series, never compared with each other.
    const warmth = (t: number) => 21 + wobble(t, 0.05);
    const damp = (t: number) => within(t, "10:00:00", "10:10:00") ? 65 : 45 + wobble(t, 0.5);
    const multi = [
      ...series("B-F2-multi-01", "temperature", 2, warmth),
      ...series("B-F2-multi-01", "humidity", 2, damp),
      ...series("B-F3-temperature-09", "temperature", 3, warmth),
      ...series("B-F3-humidity-09", "humidity", 3, damp),
    ];
    await writeSilver(lh, [...co2, ...temp, ...hum, ...flat, ...quiet, ...energy, ...multi]);
    await refreshGold(lh);

    const db = await openDuckDB();
    let alarms: AlarmOut[];
    try {
      alarms = (await db.conn.runAndReadAll(
        `SELECT rule, severity, device_id, type,
           strftime(started_at, '%Y-%m-%dT%H:%M:%SZ') AS started_at,
           strftime(ended_at, '%Y-%m-%dT%H:%M:%SZ') AS ended_at,
           round(peak_value, 3) AS peak_value, readings::INTEGER AS readings
         FROM ${deltaScanSql(goldTablePath(lh, "alarms"), 1)} ORDER BY started_at, rule`,
      )).getRowObjectsJson() as unknown as AlarmOut[];
    } finally {
      db.close();
    }
    const of = (rule: string, device: string | null) =>
      alarms.filter((a) => a.rule === rule && a.device_id === device).map((a) => ({
        severity: a.severity,
        started_at: a.started_at,
        ended_at: a.ended_at,
        peak_value: a.peak_value,
        readings: a.readings,
      }));

    // Threshold: the 08:35 dip merges (in band < hold 2 min); the 3-min excursion is too short;
    // 09:30 is critical; 10:50 is still violating at the end of the data, so open.
    assert.deepEqual(of("threshold", "B-F0-co2-01"), [
      {
        severity: "warning",
        started_at: iso("08:30:00"),
        ended_at: iso("08:40:00"),
        peak_value: 1200,
        readings: 19,
      },
      {
        severity: "critical",
        started_at: iso("09:30:00"),
        ended_at: iso("09:45:00"),
        peak_value: 1600,
        readings: 30,
      },
      {
        severity: "warning",
        started_at: iso("10:50:00"),
        ended_at: null,
        peak_value: 1300,
        readings: 20,
      },
    ]);
    // Spike: two spikes one minute apart are one episode (up, down, up, down).
    assert.deepEqual(of("spike", "B-F0-temperature-01"), [
      {
        severity: "critical",
        started_at: iso("09:00:00"),
        ended_at: iso("09:02:00"),
        peak_value: 35,
        readings: 4,
      },
    ]);
    // Robust z-score catches what the band and spike rules do not.
    assert.deepEqual(of("zscore", "B-F0-humidity-01"), [
      {
        severity: "warning",
        started_at: iso("09:30:00"),
        ended_at: iso("09:30:30"),
        peak_value: 53,
        readings: 1,
      },
    ]);
    assert.deepEqual(of("spike", "B-F0-humidity-01"), []);
    assert.deepEqual(of("threshold", "B-F0-humidity-01"), []);
    // Flatline: 14.5 min stuck raises, 4.5 min does not; clears at the first different value.
    assert.deepEqual(of("flatline", "B-F1-temperature-01"), [
      {
        severity: "warning",
        started_at: iso("09:00:00"),
        ended_at: iso("09:15:00"),
        peak_value: 21.5,
        readings: 30,
      },
    ]);
    // Silent: the 10.5-min gap (first missing reading 09:00) and the final, still open silence.
    const silent = of("silent", "B-F1-co2-01");
    assert.deepEqual(silent.map((s) => [s.started_at, s.ended_at]), [
      [iso("09:00:00"), iso("09:10:00")],
      [iso("10:30:00"), null],
    ]);
    assert.equal(silent[0].peak_value, 630);
    // No other device is silent (they all report until 11:00).
    assert.deepEqual(
      alarms.filter((a) => a.rule === "silent" && a.device_id !== "B-F1-co2-01"),
      [],
    );
    const episodes = (devices: string[]) =>
      alarms.filter((a) => devices.includes(a.device_id ?? "")).map((a) =>
        JSON.stringify({ ...a, device_id: null })
      ).sort();
    const combined = episodes(["B-F2-multi-01"]);
    assert.ok(combined.some((e) => e.includes('"threshold"') && e.includes('"humidity"')));
    assert.deepEqual(combined, episodes(["B-F3-temperature-09", "B-F3-humidity-09"]));
    // Energy: 2.5x last week's same hour for 30 min, building-level.
    assert.deepEqual(of("energy_baseline", null), [
      {
        severity: "warning",
        started_at: iso("09:00:00"),
        ended_at: iso("09:30:00"),
        peak_value: 2.5,
        readings: 2,
      },
    ]);
  } finally {
    await Deno.remove(lh, { recursive: true });
  }
});
