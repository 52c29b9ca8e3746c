/**
 * Fault injection: what can go wrong with sensors (anomaly episodes, written to `--truth` so
 * detection can be scored) and with messages (data faults, counted in the summary so ingestion
 * can be checked to the exact row).
 *
 * Episode shapes are tuned to the alarm rules (sql/alarms/) so that each injected episode is
 * clearly detectable: CO2 plateaus above 1000/1500 ppm for ≥ 7 min, temperature/humidity
 * outside their bands for ≥ 9 min, flatlines ≥ 12 min, silences ≥ 6 min (and ≥ 8 intervals),
 * energy ≥ 2.8× for ≥ 60 min, spikes far beyond any per-type rate of change. Every faulty value
 * stays inside PLAUSIBLE_RANGES, so anomalies land in silver (where alarms look) rather than in
 * quarantine.
 *
 * @module
 */
import type { SensorType } from "../reading/reading.ts";

/** Kinds of anomaly episode, as written to the truth file. */
export type EpisodeKind =
  | "spike"
  | "flatline"
  | "silent"
  | "co2_high"
  | "temp_out_of_band"
  | "humidity_out_of_band"
  | "energy_high";

/** Every episode kind, in a stable order. */
export const EPISODE_KINDS: readonly EpisodeKind[] = [
  "spike",
  "flatline",
  "silent",
  "co2_high",
  "temp_out_of_band",
  "humidity_out_of_band",
  "energy_high",
];

/** Which sensor types each kind applies to (energy_high is building-wide over energy meters). */
export const EPISODE_TYPES: Readonly<Record<EpisodeKind, readonly SensorType[]>> = {
  spike: ["temperature", "humidity", "co2", "energy"],
  flatline: ["temperature", "humidity", "co2", "energy"],
  silent: ["temperature", "humidity", "co2", "energy"],
  co2_high: ["co2"],
  temp_out_of_band: ["temperature"],
  humidity_out_of_band: ["humidity"],
  energy_high: ["energy"],
};

/**
 * The kinds a catalogue type with a generic signal (`simulate:`) can have: those that need no
 * knowledge of the signal (a stuck value, a silent device). Spikes and band excursions are
 * sized to the built-in types' physics and alarm bands.
 */
export const GENERIC_EPISODE_KINDS: readonly EpisodeKind[] = ["flatline", "silent"];

/** Kinds of data fault (per message), as counted in the summary. */
export type DataFaultKind =
  | "duplicate"
  | "out_of_order"
  | "late"
  | "wrong_unit"
  | "alt_timestamp"
  | "malformed_json"
  | "missing_field"
  | "wrong_type";

/** Every data fault kind, in the order their probabilities are stacked. */
export const DATA_FAULT_KINDS: readonly DataFaultKind[] = [
  "duplicate",
  "out_of_order",
  "late",
  "wrong_unit",
  "alt_timestamp",
  "malformed_json",
  "missing_field",
  "wrong_type",
];

/** Data faults whose message is rejected by decodeReading (they go to quarantine). */
export const REJECTED_FAULTS: ReadonlySet<DataFaultKind> = new Set([
  "malformed_json",
  "missing_field",
  "wrong_type",
]);

/**
 * Fault rates. Episode rates are expected episodes per device per hour of event time
 * (energy_high: per building per hour); data fault rates are probabilities per message.
 */
export interface FaultRates {
  episodes: Record<EpisodeKind, number>;
  data: Record<DataFaultKind, number>;
}

/** Names of the built-in profiles. */
export type FaultProfileName = "none" | "light" | "chaos" | "data" | "anomalies";

function zeroEpisodes(): Record<EpisodeKind, number> {
  return Object.fromEntries(EPISODE_KINDS.map((k) => [k, 0])) as Record<EpisodeKind, number>;
}
function zeroData(): Record<DataFaultKind, number> {
  return Object.fromEntries(DATA_FAULT_KINDS.map((k) => [k, 0])) as Record<DataFaultKind, number>;
}

const CHAOS_EPISODES: Record<EpisodeKind, number> = {
  spike: 0.2,
  flatline: 0.1,
  silent: 0.1,
  co2_high: 0.3,
  temp_out_of_band: 0.25,
  humidity_out_of_band: 0.25,
  energy_high: 0.05,
};
const CHAOS_DATA: Record<DataFaultKind, number> = {
  duplicate: 0.01,
  out_of_order: 0.01,
  late: 0.004,
  wrong_unit: 0.02,
  alt_timestamp: 0.02,
  malformed_json: 0.004,
  missing_field: 0.004,
  wrong_type: 0.004,
};

function scaled<K extends string>(r: Record<K, number>, f: number): Record<K, number> {
  return Object.fromEntries(Object.entries<number>(r).map(([k, v]) => [k, v * f])) as Record<
    K,
    number
  >;
}

/**
 * Built-in profiles: `none` (clean baseline, for false-alarm scoring), `light` (a realistic
 * day: few anomalies, rare bad messages), `chaos` (every kind, often), `data` (message faults
 * only) and `anomalies` (episodes only).
 */
export const FAULT_PROFILES: Readonly<Record<FaultProfileName, FaultRates>> = {
  none: { episodes: zeroEpisodes(), data: zeroData() },
  light: { episodes: scaled(CHAOS_EPISODES, 0.2), data: scaled(CHAOS_DATA, 0.1) },
  chaos: { episodes: CHAOS_EPISODES, data: CHAOS_DATA },
  data: { episodes: zeroEpisodes(), data: CHAOS_DATA },
  anomalies: { episodes: CHAOS_EPISODES, data: zeroData() },
};

/** Raised for an unknown profile or a bad rate override. */
export class FaultConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FaultConfigError";
  }
}

/**
 * Resolves a profile name plus `kind=rate` overrides (e.g. `"spike=1,duplicate=0.05"`) into
 * rates. Overrides name any episode or data fault kind.
 *
 * @example
 * ```ts
 * import { resolveFaults } from "./faults.ts";
 * resolveFaults("none", "duplicate=0.1").data.duplicate; // 0.1
 * ```
 */
export function resolveFaults(profile: string, overrides = ""): FaultRates {
  if (!Object.hasOwn(FAULT_PROFILES, profile)) {
    throw new FaultConfigError(
      `unknown fault profile "${profile}" (expected ${Object.keys(FAULT_PROFILES).join(", ")})`,
    );
  }
  const base = FAULT_PROFILES[profile as FaultProfileName];
  const rates: FaultRates = { episodes: { ...base.episodes }, data: { ...base.data } };
  for (const part of overrides.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [k, v] = part.split("=");
    const n = Number(v);
    if (v === undefined || v.trim() === "" || !Number.isFinite(n) || n < 0) {
      throw new FaultConfigError(`fault override "${part}" must be kind=<non-negative number>`);
    }
    if ((EPISODE_KINDS as readonly string[]).includes(k)) rates.episodes[k as EpisodeKind] = n;
    else if ((DATA_FAULT_KINDS as readonly string[]).includes(k)) {
      if (n > 1) throw new FaultConfigError(`data fault rate ${k}=${n} is a probability (≤ 1)`);
      rates.data[k as DataFaultKind] = n;
    } else {
      throw new FaultConfigError(
        `unknown fault kind "${k}" (expected one of ${
          [...EPISODE_KINDS, ...DATA_FAULT_KINDS].join(", ")
        })`,
      );
    }
  }
  const total = DATA_FAULT_KINDS.reduce((s, k) => s + rates.data[k], 0);
  if (total > 1) throw new FaultConfigError(`data fault probabilities sum to ${total} > 1`);
  return rates;
}

/** One injected anomaly episode, as a line of the truth file. */
export interface Episode {
  device_id: string;
  building: string;
  floor: number;
  type: SensorType;
  kind: EpisodeKind;
  /** Event time of the first affected (or first missing) reading, ISO-8601 UTC. */
  start: string;
  /** Event time of the last affected (or last missing) reading, ISO-8601 UTC. */
  end: string;
  /** For band episodes: the alarm tier the plateau reaches. */
  severity?: "warning" | "critical";
  /** Most extreme injected value, canonical unit (not for silent). */
  peak?: number;
  /** `building` for energy_high: every energy meter of the building is affected together. */
  scope?: "device" | "building";
}

/**
 * Shape of an episode in time: a ramp in, a plateau, a ramp out. Durations are in ms of event
 * time; the envelope is 0 outside, 1 on the plateau.
 */
export interface EpisodeShape {
  rampMs: number;
  totalMs: number;
}

/** Envelope value at `elapsedMs` into an episode: smooth 0→1→0. */
export function envelope(shape: EpisodeShape, elapsedMs: number): number {
  if (elapsedMs < 0 || elapsedMs > shape.totalMs) return 0;
  if (shape.rampMs <= 0) return 1;
  const up = elapsedMs / shape.rampMs;
  const down = (shape.totalMs - elapsedMs) / shape.rampMs;
  const x = Math.min(1, up, down);
  return x * x * (3 - 2 * x);
}

/**
 * Duration bounds per kind in minutes (min, max). Kept well above the rules' minimum durations
 * (5 min for bands, 10 min flatline, 2 min silent) so that ramps and alarm hold times never
 * make an episode undetectable.
 */
export const EPISODE_MINUTES: Readonly<Record<EpisodeKind, readonly [number, number]>> = {
  spike: [0, 0],
  flatline: [12, 25],
  silent: [6, 12],
  co2_high: [10, 20],
  temp_out_of_band: [12, 25],
  humidity_out_of_band: [12, 25],
  energy_high: [60, 90],
};

/** Ramp in/out, minutes, per kind (the plateau is total − 2 ramps). */
export const EPISODE_RAMP_MINUTES: Readonly<Record<EpisodeKind, number>> = {
  spike: 0,
  flatline: 0,
  silent: 0,
  co2_high: 1.5,
  temp_out_of_band: 1.5,
  humidity_out_of_band: 1.5,
  energy_high: 1,
};

/** Quiet time after an episode on a device before the next may start (alarm hysteresis). */
export const EPISODE_COOLDOWN_MS = 15 * 60_000;

/** No episode starts in the first minutes, so trailing-hour statistics have data first. */
export const EPISODE_WARMUP_MS = 10 * 60_000;

/**
 * Rewrites a valid message into a rejected one. `variant` (0..1) picks the flavour, so the
 * choice comes from the caller's seeded PRNG.
 */
export function corruptMessage(
  kind: "malformed_json" | "missing_field" | "wrong_type",
  json: string,
  variant: number,
): string {
  if (kind === "malformed_json") {
    const v = Math.floor(variant * 5);
    if (v === 0) return json.slice(0, Math.max(1, Math.floor(json.length / 2))); // truncated
    if (v === 1) return json.replace(/"value":[^,}]+/, '"value":NaN'); // not JSON
    if (v === 2) return json.slice(0, -1) + ",}"; // trailing comma
    if (v === 3) return json.replaceAll('"', "'"); // single quotes
    return "\u0000garbage\ufffd" + json.slice(10, 30); // binary-looking garbage
  }
  if (kind === "missing_field") {
    const fields = ["timestamp", "device_id", "building", "floor", "type", "value"];
    const f = fields[Math.floor(variant * fields.length)];
    const o = JSON.parse(json) as Record<string, unknown>;
    delete o[f];
    return JSON.stringify(o);
  }
  const o = JSON.parse(json) as Record<string, unknown>;
  const v = Math.floor(variant * 4);
  if (v === 0) o.value = String(o.value); // "22.5"
  else if (v === 1) o.floor = String(o.floor);
  else if (v === 2) o.timestamp = { iso: o.timestamp };
  else o.value = [o.value];
  return JSON.stringify(o);
}
