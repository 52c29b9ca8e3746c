/**
 * A seeded, realistic simulator of the site's sensors, with fault injection.
 *
 * Signals (all event-time driven, site clock = UTC):
 * - outdoor temperature: diurnal sine (min ~3 h, max ~15 h) around a day mean that varies
 *   smoothly from day to day;
 * - occupancy per floor: weekdays 07–19 with a morning ramp, a lunch dip and an evening ramp,
 *   near zero at night and weekends;
 * - indoor temperature: first-order lag (τ 30 min) towards the HVAC setpoint (22 °C in working
 *   hours, 20.5 °C set-back), plus occupancy heat and a little outdoor leakage;
 * - CO2: first-order lag (τ 12 min) towards 430 ppm + occupancy × 420 ppm;
 * - humidity: falls as temperature rises, rises with occupancy, ± a daily offset;
 * - energy per floor meter: (base load + occupancy + HVAC effort) × interval, split over the
 *   floor's meters;
 * - per device: a fixed calibration offset, a slow sinusoidal drift and bounded noise.
 * The clean baseline stays inside every alarm band (temperature ~19–24.5 °C, CO2 ~400–900 ppm,
 * humidity ~35–56 %), so profile `none` raises no alarms.
 *
 * Determinism: signals and faults draw from two independent seeded streams, so the same flags
 * give byte-identical messages, and the same seed with or without faults gives the same
 * underlying signal.
 *
 * @module
 */
import { CANONICAL_UNITS, denormalise } from "../reading/units.ts";
import type { SensorType } from "../reading/reading.ts";
import { buildTopology, type Device, type Topology, type TopologyOptions } from "./topology.ts";
import { hashSeed, Prng } from "./prng.ts";
import {
  corruptMessage,
  DATA_FAULT_KINDS,
  type DataFaultKind,
  envelope,
  type Episode,
  EPISODE_COOLDOWN_MS,
  EPISODE_KINDS,
  EPISODE_MINUTES,
  EPISODE_RAMP_MINUTES,
  EPISODE_TYPES,
  EPISODE_WARMUP_MS,
  type EpisodeKind,
  type EpisodeShape,
  type FaultRates,
  REJECTED_FAULTS,
  resolveFaults,
} from "./faults.ts";

/** One message to produce: Kafka key, value (JSON, or garbage for malformed faults). */
export interface SimMessage {
  /** The device id: keeps each device's readings in one partition. */
  key: string;
  value: string;
  /** Event time of the reading, epoch ms (what `timestamp` in the value says). */
  eventTime: number;
  /** The data fault applied to this message, if any. */
  fault?: DataFaultKind;
}

/** Options of {@link createSimulator}; every default is documented. */
export interface SimulatorOptions {
  /** PRNG seed (default 42). */
  seed?: number | string;
  /** Event time of the first tick, epoch ms (default now, floored to the interval). */
  start?: number;
  /** Seconds between two readings of one device (default 1; ≥ 0.01). */
  intervalSeconds?: number;
  topology?: TopologyOptions;
  /** Stop after this many messages (default unlimited). */
  count?: number;
  /** Stop after this many seconds of event time (default unlimited). */
  durationSeconds?: number;
  /** Fault rates or a profile name (default `none`). */
  faults?: FaultRates | string;
}

/** Counts of what was emitted so far; `valid + duplicates + rejected = messages`. */
export interface SimStats {
  messages: number;
  /** Distinct valid readings (silver should hold exactly these). */
  valid: number;
  /** Resent copies of valid messages (dedup should drop exactly these). */
  duplicates: number;
  /** Messages decodeReading rejects (quarantine should hold exactly these). */
  rejected: number;
  dataFaults: Record<DataFaultKind, number>;
  episodes: Record<EpisodeKind, number>;
  firstEventTime: number | null;
  lastEventTime: number | null;
}

/** A running simulation. */
export interface Simulator {
  readonly topology: Topology;
  readonly start: number;
  readonly intervalMs: number;
  /** The next message, or null when count/duration is reached. */
  next(): SimMessage | null;
  /** Up to `max` messages (fewer only at the end). */
  nextBatch(max: number): SimMessage[];
  /** Episodes that have ended since the last call (for streaming a truth file). */
  takeEpisodes(): Episode[];
  /** Closes still-open episodes at the last simulated tick and returns all not yet taken. */
  finish(): Episode[];
  stats(): SimStats;
}

/** Raised for invalid simulator options. */
export class SimulatorOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SimulatorOptionsError";
  }
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const TAU_TEMP_MS = 30 * 60_000;
const TAU_CO2_MS = 12 * 60_000;
const SETPOINT_WORK = 22;
const SETPOINT_SETBACK = 20.5;

/**
 * What the clean baseline (profile `none`) never exceeds, verified by simulator_test.ts, so
 * alarm rules can be tuned to stay silent on it: the largest change between consecutive
 * readings, and the largest distance of a reading from the median of the device's trailing
 * hour. Energy figures are relative to the previous reading / the median.
 *
 * Consequences for issue 5's rules: a spike threshold above `maxStep` (e.g. 3 °C, 10 %,
 * 400 ppm, +100 % energy) and a robust z-score whose σ (1.4826·MAD) is floored at a quarter of
 * `maxHourMedianDeviation` (0.25 °C, 0.75 %, 50 ppm, 12.5 % of the median) raise no false alarm,
 * while every injected spike (±10–14 °C, ±25–35 %, +1500–2500 ppm, ×5–8) still fires both.
 * Without a MAD floor the z-score fires at every morning ramp after a flat night.
 */
export const CLEAN_BASELINE_LIMITS: Readonly<
  Record<SensorType, { maxStep: number; maxHourMedianDeviation: number }>
> = {
  temperature: { maxStep: 0.5, maxHourMedianDeviation: 1 },
  humidity: { maxStep: 2, maxHourMedianDeviation: 3 },
  co2: { maxStep: 40, maxHourMedianDeviation: 200 },
  energy: { maxStep: 0.15, maxHourMedianDeviation: 0.5 },
};

/** Decimal places each type is reported with (like real sensor firmware). */
const DECIMALS: Record<SensorType, number> = { temperature: 2, humidity: 1, co2: 0, energy: 6 };
/** Half-width of the bounded noise per type (energy: relative). */
const NOISE: Record<SensorType, number> = {
  temperature: 0.12,
  humidity: 0.8,
  co2: 15,
  energy: 0.05,
};
/** Max calibration offset per type (energy: relative share deviation). */
const OFFSET: Record<SensorType, number> = {
  temperature: 0.3,
  humidity: 1.5,
  co2: 15,
  energy: 0.1,
};
/** Amplitude of the slow drift per type. */
const DRIFT: Record<SensorType, number> = { temperature: 0.2, humidity: 0.8, co2: 10, energy: 0 };

function roundTo(x: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
}

function smoothstep(x: number): number {
  const c = x < 0 ? 0 : x > 1 ? 1 : x;
  return c * c * (3 - 2 * c);
}

/**
 * Occupancy 0..1 of a floor before its factor: working-day schedule with a lunch dip. Every
 * transition is a smooth ramp over ≥ 1 h, because a step would look like an anomaly to a robust
 * z-score over the trailing hour and the clean baseline must raise no alarm.
 */
export function occupancySchedule(t: number): number {
  const day = new Date(t).getUTCDay();
  if (day === 0 || day === 6) return 0.02;
  const h = (t % DAY_MS) / HOUR_MS;
  if (h < 7 || h >= 19) return 0.02;
  let occ = smoothstep((h - 7) / 2) * (1 - smoothstep((h - 17) / 2));
  if (h >= 11.5 && h < 14) occ *= 1 - 0.4 * Math.sin(Math.PI * (h - 11.5) / 2.5) ** 2;
  return Math.max(0.02, occ);
}

/**
 * HVAC working-mode level 0..1: weekdays, ramping up 05–07 and down 19–21 UTC (soft start and
 * stop, like a real building management system, and for the same no-false-alarm reason).
 */
export function hvacLevel(t: number): number {
  const day = new Date(t).getUTCDay();
  if (day === 0 || day === 6) return 0;
  const h = (t % DAY_MS) / HOUR_MS;
  return smoothstep((h - 5) / 2) * (1 - smoothstep((h - 19) / 2));
}

/** ISO-8601 UTC without `.000` when the millisecond part is zero (as in the seed example). */
function isoOf(t: number): string {
  const s = new Date(t).toISOString();
  return t % 1000 === 0 ? s.slice(0, 19) + "Z" : s;
}

/** ISO-8601 with a `±hh:mm` offset (a valid but different encoding of the same instant). */
function isoWithOffset(t: number, offsetMin: number): string {
  const local = new Date(t + offsetMin * 60_000).toISOString().slice(0, 19);
  const sign = offsetMin < 0 ? "-" : "+";
  const a = Math.abs(offsetMin);
  return `${local}${sign}${String(Math.floor(a / 60)).padStart(2, "0")}:${
    String(a % 60).padStart(2, "0")
  }`;
}

interface FloorState {
  building: string;
  floor: number;
  factor: number;
  setpointOffset: number;
  baseKw: number;
  temp: number;
  co2: number;
  // values of the current tick
  tempNow: number;
  rhNow: number;
  co2Now: number;
  kwNow: number;
}

interface ActiveEpisode {
  kind: EpisodeKind;
  startMs: number;
  endMs: number;
  shape: EpisodeShape;
  target: number;
  stuck: number | null;
  peak: number | null;
  record: Episode;
}

interface DeviceState {
  dev: Device;
  floor: FloorState;
  /** `,"device_id":…,"value":` — everything between timestamp and value. */
  mid: string;
  /** `,"unit":"C"}` */
  suffix: string;
  offset: number;
  driftPeriodMs: number;
  driftPhase: number;
  busyUntil: number;
  ep: ActiveEpisode | null;
}

interface Pending {
  releaseAt: number;
  seq: number;
  msg: SimMessage;
}

/**
 * Creates a simulator. Messages come tick by tick (one reading per device per interval, in
 * topology order), with delayed faults (late, out-of-order, duplicates) released at later ticks.
 *
 * @example
 * ```ts
 * import { createSimulator } from "./simulator.ts";
 * const sim = createSimulator({ seed: 1, start: Date.UTC(2025, 11, 15, 10), count: 3 });
 * sim.next()?.value;
 * // {"timestamp":"2025-12-15T10:00:00Z","device_id":"A-F0-temperature-01","building":"A",…}
 * ```
 */
export function createSimulator(opts: SimulatorOptions = {}): Simulator {
  const seed = opts.seed ?? 42;
  const intervalSeconds = opts.intervalSeconds ?? 1;
  if (!Number.isFinite(intervalSeconds) || intervalSeconds < 0.01) {
    throw new SimulatorOptionsError(`interval must be ≥ 0.01 s, got ${intervalSeconds}`);
  }
  const intervalMs = Math.round(intervalSeconds * 1000);
  const start = opts.start ?? Math.floor(Date.now() / intervalMs) * intervalMs;
  if (!Number.isFinite(start) || start < 0 || start >= Date.UTC(2100, 0, 1)) {
    throw new SimulatorOptionsError(`start must be between 1970 and 2100, got ${start}`);
  }
  const count = opts.count ?? Infinity;
  const endTime = opts.durationSeconds === undefined
    ? Infinity
    : start + opts.durationSeconds * 1000;
  const rates = typeof opts.faults === "string" || opts.faults === undefined
    ? resolveFaults(opts.faults ?? "none")
    : opts.faults;
  const topology = buildTopology(opts.topology);
  const sig = new Prng(hashSeed(seed, "signal"));
  const flt = new Prng(hashSeed(seed, "faults"));
  const intervalH = intervalMs / HOUR_MS;
  const alphaTemp = 1 - Math.exp(-intervalMs / TAU_TEMP_MS);
  const alphaCo2 = 1 - Math.exp(-intervalMs / TAU_CO2_MS);

  // Floors and devices, initialised from the signal stream in topology order.
  const floors = new Map<string, FloorState>();
  for (const b of topology.buildings) {
    for (let f = 0; f < topology.floors; f++) {
      floors.set(`${b}/${f}`, {
        building: b,
        floor: f,
        factor: sig.range(0.65, 1),
        setpointOffset: sig.range(-0.4, 0.4),
        baseKw: sig.range(4, 8),
        temp: NaN,
        co2: NaN,
        tempNow: 0,
        rhNow: 0,
        co2Now: 0,
        kwNow: 0,
      });
    }
  }
  const devices: DeviceState[] = topology.devices.map((dev) => ({
    dev,
    floor: floors.get(`${dev.building}/${dev.floor}`)!,
    mid: `,"device_id":"${dev.deviceId}","building":"${dev.building}","floor":${dev.floor},` +
      `"type":"${dev.type}","value":`,
    suffix: `,"unit":"${CANONICAL_UNITS[dev.type]}"}`,
    offset: sig.range(-1, 1) * OFFSET[dev.type],
    driftPeriodMs: sig.range(4, 10) * HOUR_MS,
    driftPhase: sig.range(0, 2 * Math.PI),
    busyUntil: start + EPISODE_WARMUP_MS,
    ep: null,
  }));
  const energyByBuilding = new Map<string, DeviceState[]>();
  for (const d of devices) {
    if (d.dev.type !== "energy") continue;
    const list = energyByBuilding.get(d.dev.building) ?? [];
    list.push(d);
    energyByBuilding.set(d.dev.building, list);
  }
  const silentUntil = new Map<string, number>();

  // Fault scheduling: per-tick hazards, one draw per device when any rate is set.
  const deviceKinds = (type: SensorType) =>
    EPISODE_KINDS.filter((k) => k !== "energy_high" && EPISODE_TYPES[k].includes(type));
  const hazardByType = new Map<
    SensorType,
    { total: number; kinds: EpisodeKind[]; cum: number[] }
  >();
  for (const type of ["temperature", "humidity", "co2", "energy"] as SensorType[]) {
    const kinds = deviceKinds(type).filter((k) => rates.episodes[k] > 0);
    const cum: number[] = [];
    let total = 0;
    for (const k of kinds) {
      total += rates.episodes[k] * intervalH;
      cum.push(total);
    }
    hazardByType.set(type, { total, kinds, cum });
  }
  const energyHazard = rates.episodes.energy_high * intervalH;
  const dataCum: number[] = [];
  let dataTotal = 0;
  for (const k of DATA_FAULT_KINDS) {
    dataTotal += rates.data[k];
    dataCum.push(dataTotal);
  }

  const dayMeanCache = new Map<number, number>();
  const dayMean = (day: number): number => {
    let v = dayMeanCache.get(day);
    if (v === undefined) {
      v = 5 + 8 * (hashSeed(seed, `day${day}`) / 4294967296);
      dayMeanCache.set(day, v);
    }
    return v;
  };
  const dayHumidity = (day: number): number => 6 * (hashSeed(seed, `rh${day}`) / 4294967296) - 3;

  let tick = 0;
  let ended = false;
  let lastTick = start - intervalMs;
  let buf: SimMessage[] = [];
  let bufIdx = 0;
  let pending: Pending[] = [];
  let seq = 0;
  const completed: Episode[] = [];
  const stats: SimStats = {
    messages: 0,
    valid: 0,
    duplicates: 0,
    rejected: 0,
    dataFaults: Object.fromEntries(DATA_FAULT_KINDS.map((k) => [k, 0])) as Record<
      DataFaultKind,
      number
    >,
    episodes: Object.fromEntries(EPISODE_KINDS.map((k) => [k, 0])) as Record<EpisodeKind, number>,
    firstEventTime: null,
    lastEventTime: null,
  };

  function updateFloors(t: number): void {
    const day = Math.floor(t / DAY_MS);
    const h = (t % DAY_MS) / HOUR_MS;
    const mean = dayMean(day) + (dayMean(day + 1) - dayMean(day)) * (h / 24);
    const outdoor = mean + 5 * Math.sin(2 * Math.PI * (h - 9) / 24);
    const occBase = occupancySchedule(t);
    const hvac = hvacLevel(t);
    const rhDay = dayHumidity(day) + (dayHumidity(day + 1) - dayHumidity(day)) * (h / 24);
    for (const fs of floors.values()) {
      const occ = occBase * fs.factor;
      const setpoint = SETPOINT_SETBACK + (SETPOINT_WORK - SETPOINT_SETBACK) * hvac +
        fs.setpointOffset;
      const target = setpoint + 1.5 * occ + 0.03 * (outdoor - setpoint);
      fs.temp = Number.isNaN(fs.temp) ? target : fs.temp + (target - fs.temp) * alphaTemp;
      const co2Target = 430 + 420 * occ;
      fs.co2 = Number.isNaN(fs.co2) ? co2Target : fs.co2 + (co2Target - fs.co2) * alphaCo2;
      fs.tempNow = fs.temp;
      fs.co2Now = fs.co2;
      fs.rhNow = 46 - 2 * (fs.temp - 21) + 5 * occ + rhDay;
      const effort = Math.abs(outdoor - setpoint);
      const hvacKw = 0.15 * effort + (2 + 0.35 * effort) * hvac;
      fs.kwNow = fs.baseKw + 14 * occ + hvacKw;
    }
  }

  function cleanValue(d: DeviceState, t: number): number {
    const fs = d.floor;
    const type = d.dev.type;
    const drift = DRIFT[type] === 0
      ? 0
      : DRIFT[type] * Math.sin((2 * Math.PI * (t - start)) / d.driftPeriodMs + d.driftPhase);
    switch (type) {
      case "temperature":
        return fs.tempNow + d.offset + drift;
      case "humidity":
        return fs.rhNow + d.offset + drift;
      case "co2":
        return fs.co2Now + d.offset + drift;
      case "energy":
        return (fs.kwNow * intervalH / topology.devicesPerFloor) * (1 + d.offset);
    }
  }

  function beginEpisode(d: DeviceState, kind: EpisodeKind, t: number, shared?: ActiveEpisode) {
    let ep: ActiveEpisode;
    if (shared) {
      ep = { ...shared, peak: null, record: { ...shared.record } };
    } else {
      const [lo, hi] = EPISODE_MINUTES[kind];
      const totalMs = kind === "spike" ? 0 : Math.max(flt.range(lo, hi) * 60_000, 10 * intervalMs);
      const endMs = t + Math.floor(totalMs / intervalMs) * intervalMs;
      // Ramps span ≥ 3 readings so a coarse interval does not turn them into spikes.
      const rampMs = kind === "spike" || EPISODE_RAMP_MINUTES[kind] === 0
        ? 0
        : Math.min(Math.max(EPISODE_RAMP_MINUTES[kind] * 60_000, 3 * intervalMs), totalMs / 5);
      let target = 0;
      let severity: "warning" | "critical" | undefined;
      const critical = flt.chance(0.4);
      const high = flt.chance(0.5);
      if (kind === "co2_high") {
        target = critical ? flt.range(1700, 2200) : flt.range(1150, 1400);
        severity = critical ? "critical" : "warning";
      } else if (kind === "temp_out_of_band") {
        target = high
          ? (critical ? flt.range(33, 35) : flt.range(29.5, 31))
          : (critical ? flt.range(12, 14) : flt.range(15.8, 17));
        severity = critical ? "critical" : "warning";
      } else if (kind === "humidity_out_of_band") {
        target = high
          ? (critical ? flt.range(73, 80) : flt.range(63.5, 68))
          : (critical ? flt.range(14, 18) : flt.range(23, 27.5));
        severity = critical ? "critical" : "warning";
      } else if (kind === "energy_high") {
        target = flt.range(2.8, 3.5); // a factor
      } else if (kind === "spike") {
        target = flt.chance(0.5) ? 1 : -1; // a sign
      }
      ep = {
        kind,
        startMs: t,
        endMs,
        shape: { rampMs, totalMs: endMs - t },
        target,
        stuck: null,
        peak: null,
        record: {
          device_id: d.dev.deviceId,
          building: d.dev.building,
          floor: d.dev.floor,
          type: d.dev.type,
          kind,
          start: isoOf(t),
          end: isoOf(endMs),
          ...(severity ? { severity } : {}),
          scope: kind === "energy_high" ? "building" : "device",
        },
      };
    }
    ep.record.device_id = d.dev.deviceId;
    ep.record.floor = d.dev.floor;
    d.ep = ep;
    d.busyUntil = ep.endMs + EPISODE_COOLDOWN_MS;
    if (kind === "silent") silentUntil.set(d.dev.building, ep.endMs + intervalMs);
    stats.episodes[kind]++;
    return ep;
  }

  function endEpisode(d: DeviceState, endMs: number): void {
    const ep = d.ep!;
    d.ep = null;
    if (endMs < ep.startMs) return;
    ep.record.end = isoOf(Math.min(ep.endMs, endMs));
    if (ep.peak !== null) ep.record.peak = roundTo(ep.peak, DECIMALS[d.dev.type]);
    completed.push(ep.record);
  }

  /** Applies the active episode to a clean value; returns null when the device is silent. */
  function applyEpisode(d: DeviceState, t: number, clean: number, noise: number): number | null {
    const ep = d.ep!;
    const type = d.dev.type;
    let v: number;
    switch (ep.kind) {
      case "silent":
        return null;
      case "flatline":
        if (ep.stuck === null) ep.stuck = ep.peak = roundTo(clean + noise, DECIMALS[type]);
        return ep.stuck;
      case "spike": {
        const base = clean + noise;
        if (type === "temperature") v = base + ep.target * flt.range(10, 14);
        else if (type === "humidity") {
          v = Math.min(98, Math.max(2, base + ep.target * flt.range(25, 35)));
        } else if (type === "co2") v = base + flt.range(1500, 2500);
        else v = base * flt.range(5, 8);
        break;
      }
      case "energy_high":
        v = (clean + noise) * (1 + (ep.target - 1) * envelope(ep.shape, t - ep.startMs));
        break;
      default: {
        const e = envelope(ep.shape, t - ep.startMs);
        v = clean + (ep.target - clean) * e + noise;
      }
    }
    const isMax = ep.kind === "spike" || ep.kind === "energy_high" || ep.kind === "co2_high" ||
      ep.target > clean;
    if (ep.peak === null || (isMax ? v > ep.peak : v < ep.peak)) ep.peak = v;
    return v;
  }

  function maybeStartEpisodes(t: number): void {
    if (energyHazard > 0 && t >= start + EPISODE_WARMUP_MS) {
      for (const [, meters] of energyByBuilding) {
        if (!flt.chance(energyHazard)) continue;
        if (meters.some((m) => m.ep !== null || m.busyUntil > t)) continue;
        const first = beginEpisode(meters[0], "energy_high", t);
        for (const m of meters.slice(1)) beginEpisode(m, "energy_high", t, first);
      }
    }
  }

  function pushPending(msg: SimMessage, releaseAt: number): void {
    const p = { releaseAt, seq: seq++, msg };
    let i = pending.length;
    while (i > 0 && (pending[i - 1].releaseAt > releaseAt)) i--;
    pending.splice(i, 0, p);
  }

  function generateTick(t: number): void {
    const out: SimMessage[] = [];
    let released = 0;
    while (released < pending.length && pending[released].releaseAt <= t) {
      out.push(pending[released].msg);
      released++;
    }
    if (released > 0) pending = pending.slice(released);

    updateFloors(t);
    maybeStartEpisodes(t);
    const iso = isoOf(t);
    const head = `{"timestamp":"${iso}"`;
    for (const d of devices) {
      const type = d.dev.type;
      const clean = cleanValue(d, t);
      const noise = type === "energy" ? clean * sig.tri(NOISE.energy) : sig.tri(NOISE[type]);
      if (d.ep !== null && t > d.ep.endMs) endEpisode(d, d.ep.endMs);
      const hz = hazardByType.get(type)!;
      if (hz.total > 0 && d.ep === null && t >= d.busyUntil) {
        const u = flt.next();
        if (u < hz.total) {
          let i = 0;
          while (hz.cum[i] <= u) i++;
          const kind = hz.kinds[i];
          const blocked = kind === "silent" && (silentUntil.get(d.dev.building) ?? 0) > t;
          if (!blocked) beginEpisode(d, kind, t);
        }
      }
      let value: number | null;
      if (d.ep !== null && t >= d.ep.startMs) value = applyEpisode(d, t, clean, noise);
      else value = clean + noise;
      if (value === null) continue;
      value = roundTo(value, DECIMALS[type]);
      let msg: SimMessage = {
        key: d.dev.deviceId,
        value: head + d.mid + value + d.suffix,
        eventTime: t,
      };
      if (dataTotal > 0) {
        const u = flt.next();
        if (u < dataTotal) {
          let i = 0;
          while (dataCum[i] <= u) i++;
          const kind = DATA_FAULT_KINDS[i];
          const r = applyDataFault(kind, msg, d, t, value, head);
          if (r === null) continue; // delayed: emitted later from `pending`
          msg = r;
        }
      }
      out.push(msg);
    }
    buf = out;
    bufIdx = 0;
    lastTick = t;
  }

  /** Returns the message to emit now, or null when it was scheduled for later. */
  function applyDataFault(
    kind: DataFaultKind,
    msg: SimMessage,
    d: DeviceState,
    t: number,
    value: number,
    head: string,
  ): SimMessage | null {
    const type = d.dev.type;
    switch (kind) {
      case "duplicate":
        pushPending({ ...msg, fault: "duplicate" }, t + flt.range(0, 30_000));
        return msg;
      case "out_of_order":
        pushPending(
          { ...msg, fault: "out_of_order" },
          t + Math.max(intervalMs, flt.range(1000, 10_000)),
        );
        return null;
      case "late":
        pushPending({ ...msg, fault: "late" }, t + flt.range(60_000, 300_000));
        return null;
      case "wrong_unit": {
        if (type !== "temperature" && type !== "energy") return msg;
        const unit = type === "energy" ? "Wh" : flt.chance(0.7) ? "°F" : "K";
        const v = denormalise(type, value, unit);
        const unitPart = `,"unit":"${unit}"}`;
        return { ...msg, value: head + d.mid + v + unitPart, fault: "wrong_unit" };
      }
      case "alt_timestamp": {
        const r = flt.next();
        const ts = r < 0.33
          ? String(t / 1000)
          : r < 0.66
          ? String(t)
          : `"${isoWithOffset(t, flt.pick([60, 120, -300, 330, -90]))}"`;
        return {
          ...msg,
          value: `{"timestamp":${ts}` + d.mid + value + d.suffix,
          fault: "alt_timestamp",
        };
      }
      default:
        return { ...msg, value: corruptMessage(kind, msg.value, flt.next()), fault: kind };
    }
  }

  function fill(): void {
    while (bufIdx >= buf.length) {
      if (ended) {
        if (pending.length === 0) return;
        buf = pending.map((p) => p.msg);
        bufIdx = 0;
        pending = [];
        return;
      }
      const t = start + tick * intervalMs;
      if (t >= endTime || t >= Date.UTC(2100, 0, 1)) {
        ended = true;
        continue;
      }
      generateTick(t);
      tick++;
    }
  }

  function account(m: SimMessage): void {
    stats.messages++;
    if (m.fault === "duplicate") stats.duplicates++;
    else if (m.fault !== undefined && REJECTED_FAULTS.has(m.fault)) stats.rejected++;
    else stats.valid++;
    if (m.fault !== undefined) stats.dataFaults[m.fault]++;
    if (stats.firstEventTime === null || m.eventTime < stats.firstEventTime) {
      stats.firstEventTime = m.eventTime;
    }
    if (stats.lastEventTime === null || m.eventTime > stats.lastEventTime) {
      stats.lastEventTime = m.eventTime;
    }
  }

  function next(): SimMessage | null {
    if (stats.messages >= count) return null;
    if (bufIdx >= buf.length) fill();
    if (bufIdx >= buf.length) return null;
    const m = buf[bufIdx++];
    account(m);
    return m;
  }

  return {
    topology,
    start,
    intervalMs,
    next,
    nextBatch(max: number): SimMessage[] {
      const out: SimMessage[] = [];
      while (out.length < max) {
        const m = next();
        if (m === null) break;
        out.push(m);
      }
      return out;
    },
    takeEpisodes(): Episode[] {
      return completed.splice(0, completed.length);
    },
    finish(): Episode[] {
      for (const d of devices) if (d.ep !== null) endEpisode(d, lastTick);
      return completed.splice(0, completed.length);
    },
    stats(): SimStats {
      return {
        ...stats,
        dataFaults: { ...stats.dataFaults },
        episodes: { ...stats.episodes },
      };
    },
  };
}
