/**
 * When and where faults happen: anomaly episodes per device (and per building for energy),
 * drawn as per-tick hazards, applied to the clean signal while they last and recorded as the
 * truth the alarm scoring compares with; and data faults per message (duplicates, late and
 * out-of-order resends held in a queue until their release tick, wrong units, other timestamp
 * encodings, corruptions). The shapes and rates live in faults.ts.
 *
 * Every draw comes from the fault stream, in the order the simulator calls these methods, so
 * the same seed gives the same faults and the signal stream is never touched.
 *
 * @module
 */
import { denormalise } from "../reading/units.ts";
import type { SensorType } from "../reading/reading.ts";
import type { Device } from "./topology.ts";
import type { Prng } from "./prng.ts";
import {
  corruptMessage,
  DATA_FAULT_KINDS,
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
  GENERIC_EPISODE_KINDS,
} from "./faults.ts";
import {
  decimalsOf,
  type EncodedDevice,
  encodeReading,
  headWithTimestamp,
  isoOf,
  isoWithOffset,
  roundTo,
  type SimMessage,
} from "./encoder.ts";
import { HOUR_MS } from "./physics.ts";
import type { SimType } from "./sim_types.ts";

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

/** A device as the scheduler sees it: the episode it is in, and until when it rests. */
export interface EpisodeSlot extends EncodedDevice {
  dev: Device;
  busyUntil: number;
  ep: ActiveEpisode | null;
}

interface Pending {
  releaseAt: number;
  seq: number;
  msg: SimMessage;
}

/** Cumulative hazards of the episode kinds a sensor type can have, per tick. */
interface Hazard {
  total: number;
  kinds: EpisodeKind[];
  cum: number[];
}

export class FaultScheduler {
  /** Episodes begun so far, per kind. */
  readonly episodeCounts: Record<EpisodeKind, number> = Object.fromEntries(
    EPISODE_KINDS.map((k) => [k, 0]),
  ) as Record<EpisodeKind, number>;
  readonly #flt: Prng;
  readonly #start: number;
  readonly #intervalMs: number;
  readonly #hazardByType = new Map<SensorType, Hazard>();
  readonly #energyHazard: number;
  readonly #dataCum: number[] = [];
  readonly #dataTotal: number;
  readonly #completed: Episode[] = [];
  /** Per building: no new `silent` episode before this time (one silent device at a time). */
  readonly #silentUntil = new Map<string, number>();
  #pending: Pending[] = [];
  #seq = 0;

  constructor(
    rates: FaultRates,
    flt: Prng,
    opts: { start: number; intervalMs: number; types: readonly SimType[] },
  ) {
    this.#flt = flt;
    this.#start = opts.start;
    this.#intervalMs = opts.intervalMs;
    const intervalH = opts.intervalMs / HOUR_MS;
    for (const { name: type, simulate } of opts.types) {
      const kinds = EPISODE_KINDS.filter((k) =>
        k !== "energy_high" && rates.episodes[k] > 0 &&
        (simulate === null ? EPISODE_TYPES[k].includes(type) : GENERIC_EPISODE_KINDS.includes(k))
      );
      const cum: number[] = [];
      let total = 0;
      for (const k of kinds) {
        total += rates.episodes[k] * intervalH;
        cum.push(total);
      }
      this.#hazardByType.set(type, { total, kinds, cum });
    }
    this.#energyHazard = rates.episodes.energy_high * intervalH;
    let dataTotal = 0;
    for (const k of DATA_FAULT_KINDS) {
      dataTotal += rates.data[k];
      this.#dataCum.push(dataTotal);
    }
    this.#dataTotal = dataTotal;
  }

  /** Whether delayed messages are still waiting for their release tick. */
  get pendingCount(): number {
    return this.#pending.length;
  }

  /** Delayed messages due at `t`, in release order. */
  release(t: number): SimMessage[] {
    let released = 0;
    while (released < this.#pending.length && this.#pending[released].releaseAt <= t) released++;
    if (released === 0) return [];
    const out = this.#pending.slice(0, released).map((p) => p.msg);
    this.#pending = this.#pending.slice(released);
    return out;
  }

  /** Every delayed message, at the end of the run. */
  releaseAll(): SimMessage[] {
    const out = this.#pending.map((p) => p.msg);
    this.#pending = [];
    return out;
  }

  /** Building-wide episodes (energy_high on every meter of a building at once). */
  startBuildingEpisodes(t: number, energyByBuilding: Map<string, EpisodeSlot[]>): void {
    if (this.#energyHazard <= 0 || t < this.#start + EPISODE_WARMUP_MS) return;
    for (const [, meters] of energyByBuilding) {
      if (!this.#flt.chance(this.#energyHazard)) continue;
      if (meters.some((m) => m.ep !== null || m.busyUntil > t)) continue;
      const first = this.#begin(meters[0], "energy_high", t);
      for (const m of meters.slice(1)) this.#begin(m, "energy_high", t, first);
    }
  }

  /** Ends the device's episode once `t` is past it, then maybe begins a new one. */
  advance(d: EpisodeSlot, t: number): void {
    if (d.ep !== null && t > d.ep.endMs) this.#end(d, d.ep.endMs);
    const hz = this.#hazardByType.get(d.dev.type)!;
    if (hz.total <= 0 || d.ep !== null || t < d.busyUntil) return;
    const u = this.#flt.next();
    if (u >= hz.total) return;
    let i = 0;
    while (hz.cum[i] <= u) i++;
    const kind = hz.kinds[i];
    const blocked = kind === "silent" && (this.#silentUntil.get(d.dev.building) ?? 0) > t;
    if (!blocked) this.#begin(d, kind, t);
  }

  /** The reading at `t` under the device's episode, if any; null when the device is silent. */
  apply(d: EpisodeSlot, t: number, clean: number, noise: number): number | null {
    const ep = d.ep;
    if (ep === null || t < ep.startMs) return clean + noise;
    const type = d.dev.type;
    const flt = this.#flt;
    let v: number;
    switch (ep.kind) {
      case "silent":
        return null;
      case "flatline":
        if (ep.stuck === null) ep.stuck = ep.peak = roundTo(clean + noise, decimalsOf(type));
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

  /**
   * Draws this message's data fault, if any, and applies it. Returns the message to emit now,
   * or null when it was scheduled for a later tick.
   */
  dataFault(
    msg: SimMessage,
    d: EpisodeSlot,
    t: number,
    value: number,
    head: string,
  ): SimMessage | null {
    if (this.#dataTotal <= 0) return msg;
    const u = this.#flt.next();
    if (u >= this.#dataTotal) return msg;
    let i = 0;
    while (this.#dataCum[i] <= u) i++;
    const kind = DATA_FAULT_KINDS[i];
    const flt = this.#flt;
    const type = d.dev.type;
    switch (kind) {
      case "duplicate":
        this.#hold({ ...msg, fault: "duplicate" }, t + flt.range(0, 30_000));
        return msg;
      case "out_of_order":
        this.#hold(
          { ...msg, fault: "out_of_order" },
          t + Math.max(this.#intervalMs, flt.range(1000, 10_000)),
        );
        return null;
      case "late":
        this.#hold({ ...msg, fault: "late" }, t + flt.range(60_000, 300_000));
        return null;
      case "wrong_unit": {
        if (type !== "temperature" && type !== "energy") return msg;
        const unit = type === "energy" ? "Wh" : flt.chance(0.7) ? "°F" : "K";
        const v = denormalise(type, value, unit);
        return { ...msg, value: encodeReading(head, d, v, unit), fault: "wrong_unit" };
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
          value: encodeReading(headWithTimestamp(ts), d, value),
          fault: "alt_timestamp",
        };
      }
      default:
        return { ...msg, value: corruptMessage(kind, msg.value, flt.next()), fault: kind };
    }
  }

  /** Episodes that have ended since the last call. */
  takeEpisodes(): Episode[] {
    return this.#completed.splice(0, this.#completed.length);
  }

  /** Closes still-open episodes at `lastTick` and returns all not yet taken. */
  finish(devices: EpisodeSlot[], lastTick: number): Episode[] {
    for (const d of devices) if (d.ep !== null) this.#end(d, lastTick);
    return this.takeEpisodes();
  }

  #begin(d: EpisodeSlot, kind: EpisodeKind, t: number, shared?: ActiveEpisode): ActiveEpisode {
    const ep = shared
      ? { ...shared, peak: null, record: { ...shared.record } }
      : this.#draw(d, kind, t);
    ep.record.device_id = d.dev.deviceId;
    ep.record.floor = d.dev.floor;
    d.ep = ep;
    d.busyUntil = ep.endMs + EPISODE_COOLDOWN_MS;
    if (kind === "silent") this.#silentUntil.set(d.dev.building, ep.endMs + this.#intervalMs);
    this.episodeCounts[kind]++;
    return ep;
  }

  /** A new episode's length, ramp, target and severity. */
  #draw(d: EpisodeSlot, kind: EpisodeKind, t: number): ActiveEpisode {
    const flt = this.#flt;
    const intervalMs = this.#intervalMs;
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
    return {
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

  #end(d: EpisodeSlot, endMs: number): void {
    const ep = d.ep!;
    d.ep = null;
    if (endMs < ep.startMs) return;
    ep.record.end = isoOf(Math.min(ep.endMs, endMs));
    if (ep.peak !== null) ep.record.peak = roundTo(ep.peak, decimalsOf(d.dev.type));
    this.#completed.push(ep.record);
  }

  #hold(msg: SimMessage, releaseAt: number): void {
    const p = { releaseAt, seq: this.#seq++, msg };
    let i = this.#pending.length;
    while (i > 0 && (this.#pending[i - 1].releaseAt > releaseAt)) i--;
    this.#pending.splice(i, 0, p);
  }
}
