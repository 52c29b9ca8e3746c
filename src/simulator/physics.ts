/**
 * The site's physics: what every sensor would read without faults.
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
 * - per device: a fixed calibration offset, a slow sinusoidal drift and bounded noise;
 * - a catalogue type with a `simulate:` block (sim_types.ts): base + amplitude × a daily sine
 *   (highest at 15:00 UTC), a calibration offset up to its noise, and bounded noise, kept
 *   inside the type's plausible range.
 * The clean baseline stays inside every alarm band (temperature ~19–24.5 °C, CO2 ~400–900 ppm,
 * humidity ~35–56 %), so profile `none` raises no alarms.
 *
 * Every random draw comes from the signal stream it is given, in topology order, so the signal
 * is the same with or without faults.
 *
 * @module
 */
import type { SensorType } from "../reading/reading.ts";
import type { SimulateSpec } from "../reading/catalogue.ts";
import type { Device, Topology } from "./topology.ts";
import type { SimType } from "./sim_types.ts";
import { hashSeed, Prng } from "./prng.ts";

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
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
 * Consequences for the alarm rules (sql/alarms/): a spike threshold above `maxStep` (e.g. 3 °C,
 * 10 %, 400 ppm, +100 % energy) and a robust z-score whose σ (1.4826·MAD) is floored at a
 * quarter of `maxHourMedianDeviation` (0.25 °C, 0.75 %, 50 ppm, 12.5 % of the median) raise no
 * false alarm, while every injected spike (±10–14 °C, ±25–35 %, +1500–2500 ppm, ×5–8) still
 * fires both. Without a MAD floor the z-score fires at every morning ramp after a flat night.
 */
export const CLEAN_BASELINE_LIMITS: Readonly<
  Record<SensorType, { maxStep: number; maxHourMedianDeviation: number }>
> = {
  temperature: { maxStep: 0.5, maxHourMedianDeviation: 1 },
  humidity: { maxStep: 2, maxHourMedianDeviation: 3 },
  co2: { maxStep: 40, maxHourMedianDeviation: 200 },
  energy: { maxStep: 0.15, maxHourMedianDeviation: 0.5 },
};

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

/** One floor's state: its fixed traits, the lagged signals, and this tick's values. */
export interface FloorState {
  building: string;
  floor: number;
  factor: number;
  setpointOffset: number;
  baseKw: number;
  temp: number;
  co2: number;
  tempNow: number;
  rhNow: number;
  co2Now: number;
  kwNow: number;
}

/** A device as physics sees it: its floor and its own calibration and drift. */
export interface PhysicalDevice {
  dev: Device;
  floor: FloorState;
  offset: number;
  driftPeriodMs: number;
  driftPhase: number;
}

/** The floors of a site, stepped tick by tick, and each device's clean reading. */
export class SitePhysics {
  readonly #sig: Prng;
  readonly #seed: number | string;
  readonly #start: number;
  readonly #intervalH: number;
  readonly #devicesPerFloor: number;
  readonly #alphaTemp: number;
  readonly #alphaCo2: number;
  readonly #floors = new Map<string, FloorState>();
  readonly #dayMeans = new Map<number, number>();
  /** Types with a generic signal (`simulate:`), by name. */
  readonly #generic = new Map<string, SimType & { simulate: SimulateSpec }>();
  /**
   * Their own stream: adding a catalogue type to a run leaves the built-in types' signal (and
   * so their messages without faults) exactly as it was.
   */
  readonly #genericSig: Prng;

  /**
   * Draws every floor's traits from `sig`, in topology order (the first draws of a run); the
   * devices' traits and every tick's noise come from the same stream after them.
   */
  constructor(
    topology: Topology,
    sig: Prng,
    opts: { seed: number | string; start: number; intervalMs: number; types: readonly SimType[] },
  ) {
    for (const t of opts.types) {
      if (t.simulate !== null) this.#generic.set(t.name, { ...t, simulate: t.simulate });
    }
    this.#sig = sig;
    this.#genericSig = new Prng(hashSeed(opts.seed, "signal-generic"));
    this.#seed = opts.seed;
    this.#start = opts.start;
    this.#intervalH = opts.intervalMs / HOUR_MS;
    this.#devicesPerFloor = topology.devicesPerFloor;
    this.#alphaTemp = 1 - Math.exp(-opts.intervalMs / TAU_TEMP_MS);
    this.#alphaCo2 = 1 - Math.exp(-opts.intervalMs / TAU_CO2_MS);
    for (const b of topology.buildings) {
      for (let f = 0; f < topology.floors; f++) {
        this.#floors.set(`${b}/${f}`, {
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
  }

  /** A device's physical traits, drawn from the signal stream (in topology order). */
  device(dev: Device): PhysicalDevice {
    const generic = this.#generic.get(dev.type);
    const sig = generic ? this.#genericSig : this.#sig;
    return {
      dev,
      floor: this.#floors.get(`${dev.building}/${dev.floor}`)!,
      offset: sig.range(-1, 1) * (generic?.simulate.noise ?? OFFSET[dev.type]),
      driftPeriodMs: sig.range(4, 10) * HOUR_MS,
      driftPhase: sig.range(0, 2 * Math.PI),
    };
  }

  /** Advances every floor to event time `t`. */
  step(t: number): void {
    const day = Math.floor(t / DAY_MS);
    const h = (t % DAY_MS) / HOUR_MS;
    const mean = this.#dayMean(day) + (this.#dayMean(day + 1) - this.#dayMean(day)) * (h / 24);
    const outdoor = mean + 5 * Math.sin(2 * Math.PI * (h - 9) / 24);
    const occBase = occupancySchedule(t);
    const hvac = hvacLevel(t);
    const rhDay = this.#dayHumidity(day) +
      (this.#dayHumidity(day + 1) - this.#dayHumidity(day)) * (h / 24);
    for (const fs of this.#floors.values()) {
      const occ = occBase * fs.factor;
      const setpoint = SETPOINT_SETBACK + (SETPOINT_WORK - SETPOINT_SETBACK) * hvac +
        fs.setpointOffset;
      const target = setpoint + 1.5 * occ + 0.03 * (outdoor - setpoint);
      fs.temp = Number.isNaN(fs.temp) ? target : fs.temp + (target - fs.temp) * this.#alphaTemp;
      const co2Target = 430 + 420 * occ;
      fs.co2 = Number.isNaN(fs.co2) ? co2Target : fs.co2 + (co2Target - fs.co2) * this.#alphaCo2;
      fs.tempNow = fs.temp;
      fs.co2Now = fs.co2;
      fs.rhNow = 46 - 2 * (fs.temp - 21) + 5 * occ + rhDay;
      const effort = Math.abs(outdoor - setpoint);
      const hvacKw = 0.15 * effort + (2 + 0.35 * effort) * hvac;
      fs.kwNow = fs.baseKw + 14 * occ + hvacKw;
    }
  }

  /** The device's reading at `t` without noise (after `step(t)`). */
  cleanValue(d: PhysicalDevice, t: number): number {
    const fs = d.floor;
    const type = d.dev.type;
    const generic = this.#generic.get(type);
    if (generic !== undefined) return this.#genericValue(generic, d, t);
    const drift = DRIFT[type] === 0 ? 0 : DRIFT[type] *
      Math.sin((2 * Math.PI * (t - this.#start)) / d.driftPeriodMs + d.driftPhase);
    switch (type) {
      case "temperature":
        return fs.tempNow + d.offset + drift;
      case "humidity":
        return fs.rhNow + d.offset + drift;
      case "co2":
        return fs.co2Now + d.offset + drift;
      default: // energy
        return (fs.kwNow * this.#intervalH / this.#devicesPerFloor) * (1 + d.offset);
    }
  }

  /** A generic signal's clean value: its daily swing around base, the device's offset. */
  #genericValue(t: SimType & { simulate: SimulateSpec }, d: PhysicalDevice, at: number): number {
    const h = (at % DAY_MS) / HOUR_MS;
    const { base, amplitude, noise } = t.simulate;
    const v = base + amplitude * Math.sin(2 * Math.PI * (h - 9) / 24) + d.offset;
    // Room for the noise inside the plausible range, so a clean reading is never rejected.
    const [lo, hi] = t.range;
    return Math.min(hi === null ? v : hi - noise, Math.max(lo === null ? v : lo + noise, v));
  }

  /** This tick's bounded noise for a reading of `clean` (one draw from the signal stream). */
  noise(type: SensorType, clean: number): number {
    const sig = this.#sig;
    const generic = this.#generic.get(type);
    if (generic !== undefined) return this.#genericSig.tri(generic.simulate.noise);
    return type === "energy" ? clean * sig.tri(NOISE.energy) : sig.tri(NOISE[type]);
  }

  #dayMean(day: number): number {
    let v = this.#dayMeans.get(day);
    if (v === undefined) {
      v = 5 + 8 * (hashSeed(this.#seed, `day${day}`) / 4294967296);
      this.#dayMeans.set(day, v);
    }
    return v;
  }

  #dayHumidity(day: number): number {
    return 6 * (hashSeed(this.#seed, `rh${day}`) / 4294967296) - 3;
  }
}
