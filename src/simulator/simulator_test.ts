import assert from "node:assert/strict";
import { createSimulator, type SimMessage } from "./simulator.ts";
import { CLEAN_BASELINE_LIMITS } from "./physics.ts";
import { decodeReading } from "../reading/decode.ts";
import { type Episode, EPISODE_KINDS } from "./faults.ts";
import type { Reading } from "../reading/reading.ts";

const MONDAY = Date.UTC(2025, 11, 15); // a Monday, 00:00 UTC

function drain(sim: { next(): SimMessage | null }): SimMessage[] {
  const out: SimMessage[] = [];
  for (let m = sim.next(); m !== null; m = sim.next()) out.push(m);
  return out;
}

function median(a: number[]): number {
  const b = [...a].sort((x, y) => x - y);
  const n = b.length;
  return n % 2 ? b[(n - 1) / 2] : (b[n / 2 - 1] + b[n / 2]) / 2;
}

Deno.test("simulator: same flags give byte-identical messages, another seed differs", () => {
  const opts = { start: MONDAY + 8 * 3600_000, count: 20_000, faults: "chaos" } as const;
  const a = drain(createSimulator({ ...opts, seed: 5 }));
  const b = drain(createSimulator({ ...opts, seed: 5 }));
  const c = drain(createSimulator({ ...opts, seed: 6 }));
  assert.equal(a.length, 20_000);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.map((m) => m.value), c.map((m) => m.value));
  const first = JSON.parse(a[0].value);
  assert.deepEqual(Object.keys(first), [
    "timestamp",
    "device_id",
    "building",
    "floor",
    "type",
    "value",
    "unit",
  ]);
  assert.equal(first.timestamp, "2025-12-15T08:00:00Z");
});

Deno.test("simulator: faults do not shift the clean signal of the same seed", () => {
  const opts = { seed: 9, start: MONDAY, count: 2000 };
  const clean = drain(createSimulator({ ...opts, faults: "none" }));
  const anomalies = drain(createSimulator({ ...opts, faults: "anomalies" }));
  // No episode starts during the warm-up, so the first 2000 readings are identical.
  assert.deepEqual(anomalies, clean);
});

Deno.test("simulator: clean baseline stays inside every alarm band (2 days, 60 s)", () => {
  const sim = createSimulator({
    seed: 3,
    start: MONDAY,
    intervalSeconds: 60,
    durationSeconds: 2 * 86400,
    topology: { buildings: 2, floors: 2 },
  });
  const series = new Map<string, Reading[]>();
  for (const m of drain(sim)) {
    const r = decodeReading(m.value);
    assert.ok(r.ok);
    const list = series.get(r.reading.deviceId) ?? [];
    list.push(r.reading);
    series.set(r.reading.deviceId, list);
  }
  assert.equal(series.size, 16);
  const s = sim.stats();
  assert.deepEqual([s.duplicates, s.rejected], [0, 0]);
  for (const [id, rs] of series) {
    const type = rs[0].type;
    const v = rs.map((r) => r.value);
    const lim = CLEAN_BASELINE_LIMITS[type];
    if (type === "temperature") assert.ok(v.every((x) => x > 18.5 && x < 27.5), id);
    if (type === "humidity") assert.ok(v.every((x) => x > 32 && x < 58), id);
    if (type === "co2") assert.ok(v.every((x) => x >= 380 && x < 950), id);
    let run = 1;
    for (let i = 1; i < v.length; i++) {
      const step = Math.abs(v[i] - v[i - 1]) / (type === "energy" ? v[i - 1] : 1);
      assert.ok(step <= lim.maxStep, `${id} step ${step} at ${i}`);
      run = v[i] === v[i - 1] ? run + 1 : 1;
      assert.ok(run < 10, `${id} flat for ${run} readings`);
      if (i >= 60 && i % 3 === 0) {
        const md = median(v.slice(i - 60, i));
        const dev = Math.abs(v[i] - md) / (type === "energy" ? md : 1);
        assert.ok(dev <= lim.maxHourMedianDeviation, `${id} deviation ${dev} at ${i}`);
      }
    }
  }
  // Energy: same hour on Monday and Tuesday within 1.5× (far from the 2× alarm).
  for (const b of ["A", "B"]) {
    const hourly = new Map<number, number>();
    for (const [, rs] of series) {
      for (const r of rs) {
        if (r.type !== "energy" || r.building !== b) continue;
        const h = Math.floor((r.timestamp - MONDAY) / 3600_000);
        hourly.set(h, (hourly.get(h) ?? 0) + r.value);
      }
    }
    for (let h = 0; h < 24; h++) {
      const ratio = hourly.get(h + 24)! / hourly.get(h)!;
      assert.ok(ratio > 1 / 1.5 && ratio < 1.5, `building ${b} hour ${h}: ${ratio}`);
    }
  }
});

Deno.test("simulator: chaos injects every episode kind, each clearly detectable, and exact accounting", () => {
  const sim = createSimulator({
    seed: 1,
    start: MONDAY + 6 * 3600_000,
    intervalSeconds: 30,
    durationSeconds: 24 * 3600,
    faults: "chaos",
    topology: { buildings: 3, floors: 1 },
  });
  const msgs = drain(sim);
  const episodes: Episode[] = [...sim.takeEpisodes(), ...sim.finish()];
  const stats = sim.stats();
  for (const kind of EPISODE_KINDS) {
    assert.ok(episodes.some((e) => e.kind === kind), `no ${kind} episode`);
  }
  for (const k of Object.keys(stats.dataFaults) as (keyof typeof stats.dataFaults)[]) {
    assert.ok(stats.dataFaults[k] > 0, `no ${k} data fault`);
  }

  // Exact accounting: what the pipeline must find in silver / quarantine / dedup.
  const seen = new Set<string>();
  const byDevice = new Map<string, Reading[]>();
  let rejected = 0, duplicates = 0, maxEvent = 0, maxLateness = 0;
  for (const m of msgs) {
    maxLateness = Math.max(maxLateness, maxEvent - m.eventTime);
    maxEvent = Math.max(maxEvent, m.eventTime);
    const r = decodeReading(m.value);
    if (!r.ok) {
      assert.ok(!r.reason.startsWith("out_of_range"), `${r.reason}: ${m.value}`);
      rejected++;
      continue;
    }
    assert.equal(r.reading.timestamp, m.eventTime);
    const key = `${r.reading.deviceId}|${r.reading.timestamp}`;
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    const list = byDevice.get(r.reading.deviceId) ?? [];
    list.push(r.reading);
    byDevice.set(r.reading.deviceId, list);
  }
  assert.deepEqual(
    { valid: seen.size, duplicates, rejected, messages: msgs.length },
    {
      valid: stats.valid,
      duplicates: stats.duplicates,
      rejected: stats.rejected,
      messages: stats.messages,
    },
  );
  assert.ok(maxLateness <= 30 * 60_000, `a reading arrived ${maxLateness} ms late`);
  for (const rs of byDevice.values()) rs.sort((a, b) => a.timestamp - b.timestamp);

  // Each episode shows in the data the way the alarm rules (sql/alarms/) look for it.
  const MIN5 = 5 * 60_000;
  for (const e of episodes) {
    const s = Date.parse(e.start), t = Date.parse(e.end);
    const rs = byDevice.get(e.device_id) ?? [];
    const inside = rs.filter((r) => r.timestamp >= s && r.timestamp <= t);
    const what = JSON.stringify(e);
    const sustained = (pred: (v: number) => boolean) => {
      let best = 0, runStart = -1;
      for (const r of inside) {
        if (pred(r.value)) {
          if (runStart < 0) runStart = r.timestamp;
          best = Math.max(best, r.timestamp - runStart);
        } else runStart = -1;
      }
      return best;
    };
    switch (e.kind) {
      case "silent": {
        assert.equal(inside.length, 0, what);
        const before = rs.filter((r) => r.timestamp < s).at(-1);
        const after = rs.find((r) => r.timestamp > t);
        if (before && after) assert.ok(after.timestamp - before.timestamp >= MIN5, what);
        break;
      }
      case "flatline":
        if (t - s >= 10 * 60_000) {
          assert.ok(inside.every((r) => r.value === inside[0].value), what);
        }
        break;
      case "spike": {
        const prev = rs.filter((r) => r.timestamp < s).at(-1);
        const at = inside[0];
        if (prev && at) {
          const jump = Math.abs(at.value - prev.value);
          const min = { temperature: 8, humidity: 15, co2: 1000, energy: 3 * prev.value }[e.type] ??
            NaN;
          assert.ok(jump >= min, `${what} jump ${jump}`);
        }
        break;
      }
      case "co2_high":
        if (t - s >= 9 * 60_000) assert.ok(sustained((v) => v > 1000) >= MIN5, what);
        break;
      case "temp_out_of_band":
        if (t - s >= 9 * 60_000) assert.ok(sustained((v) => v < 18 || v > 28) >= MIN5, what);
        break;
      case "humidity_out_of_band":
        if (t - s >= 9 * 60_000) assert.ok(sustained((v) => v < 30 || v > 60) >= MIN5, what);
        break;
      case "energy_high": {
        const base = rs.filter((r) => r.timestamp < s && r.timestamp >= s - 3600_000);
        const typical = median(base.map((r) => r.value));
        if (base.length > 10 && t - s >= 30 * 60_000) {
          assert.ok(sustained((v) => v > 2 * typical) >= 20 * 60_000, what);
        }
        break;
      }
    }
  }
});

Deno.test("simulator: count and duration bound the run; nextBatch; options checked", () => {
  const sim = createSimulator({ seed: 1, start: MONDAY, count: 250 });
  assert.equal(sim.nextBatch(100).length, 100);
  assert.equal(sim.nextBatch(1000).length, 150);
  assert.equal(sim.next(), null);
  const d = createSimulator({ seed: 1, start: MONDAY, durationSeconds: 10, intervalSeconds: 2 });
  assert.equal(drain(d).length, 5 * 36);
  assert.throws(() => createSimulator({ intervalSeconds: 0 }));
  assert.throws(() => createSimulator({ start: -5 }));
  assert.throws(() => createSimulator({ faults: "bogus" }));
});
