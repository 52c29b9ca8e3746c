/**
 * A seeded, realistic simulator of the site's sensors, with fault injection: the tick loop that
 * asks the site physics (physics.ts) for each device's clean reading, lets the fault scheduler
 * (fault_scheduler.ts) bend it into an episode or a data fault, and encodes the message
 * (encoder.ts).
 *
 * Determinism: signals and faults draw from two independent seeded streams, so the same flags
 * give byte-identical messages, and the same seed with or without faults gives the same
 * underlying signal.
 *
 * @module
 */
import { buildTopology, type Topology, type TopologyOptions } from "./topology.ts";
import { hashSeed, Prng } from "./prng.ts";
import {
  DATA_FAULT_KINDS,
  type DataFaultKind,
  type Episode,
  EPISODE_WARMUP_MS,
  type EpisodeKind,
  type FaultRates,
  REJECTED_FAULTS,
  resolveFaults,
} from "./faults.ts";
import { type PhysicalDevice, SitePhysics } from "./physics.ts";
import { type EpisodeSlot, FaultScheduler } from "./fault_scheduler.ts";
import { BUILTIN_SIM_TYPES, type SimType } from "./sim_types.ts";
import {
  decimalsOf,
  encodedDevice,
  encodeReading,
  messageHead,
  roundTo,
  type SimMessage,
} from "./encoder.ts";

export type { SimMessage };

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
  /**
   * The types to simulate (default the brief's four with their built-in physics); from a
   * catalogue: `simulatedTypes(catalogue)` (sim_types.ts).
   */
  types?: readonly SimType[];
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

/** Event time the simulator never reaches (timestamps must stay below 2100). */
const END_OF_TIME = Date.UTC(2100, 0, 1);

type DeviceState = PhysicalDevice & EpisodeSlot;

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
  return new SiteSimulator(opts);
}

/** The tick loop: one buffer of messages per tick, delayed faults merged in as they fall due. */
class SiteSimulator implements Simulator {
  readonly topology: Topology;
  readonly start: number;
  readonly intervalMs: number;
  readonly #count: number;
  readonly #endTime: number;
  readonly #physics: SitePhysics;
  readonly #faults: FaultScheduler;
  readonly #devices: DeviceState[];
  readonly #energyByBuilding = new Map<string, DeviceState[]>();
  readonly #stats: SimStats;
  #tick = 0;
  #ended = false;
  #lastTick: number;
  #buf: SimMessage[] = [];
  #bufIdx = 0;

  constructor(opts: SimulatorOptions) {
    const seed = opts.seed ?? 42;
    const intervalSeconds = opts.intervalSeconds ?? 1;
    if (!Number.isFinite(intervalSeconds) || intervalSeconds < 0.01) {
      throw new SimulatorOptionsError(`interval must be ≥ 0.01 s, got ${intervalSeconds}`);
    }
    const intervalMs = Math.round(intervalSeconds * 1000);
    const start = opts.start ?? Math.floor(Date.now() / intervalMs) * intervalMs;
    if (!Number.isFinite(start) || start < 0 || start >= END_OF_TIME) {
      throw new SimulatorOptionsError(`start must be between 1970 and 2100, got ${start}`);
    }
    this.start = start;
    this.intervalMs = intervalMs;
    this.#lastTick = start - intervalMs;
    this.#count = opts.count ?? Infinity;
    this.#endTime = opts.durationSeconds === undefined
      ? Infinity
      : start + opts.durationSeconds * 1000;
    const rates: FaultRates = typeof opts.faults === "string" || opts.faults === undefined
      ? resolveFaults(opts.faults ?? "none")
      : opts.faults;
    const types = opts.types ?? BUILTIN_SIM_TYPES;
    if (types.length === 0) throw new SimulatorOptionsError("no sensor type to simulate");
    const units = new Map(types.map((t) => [t.name, t.unit]));
    this.topology = buildTopology(opts.topology, types.map((t) => t.name));
    const sig = new Prng(hashSeed(seed, "signal"));
    this.#physics = new SitePhysics(this.topology, sig, { seed, start, intervalMs, types });
    this.#devices = this.topology.devices.map((dev) => ({
      ...this.#physics.device(dev),
      ...encodedDevice(dev, units.get(dev.type)!),
      busyUntil: start + EPISODE_WARMUP_MS,
      ep: null,
    }));
    for (const d of this.#devices) {
      if (d.dev.type !== "energy") continue;
      const list = this.#energyByBuilding.get(d.dev.building) ?? [];
      list.push(d);
      this.#energyByBuilding.set(d.dev.building, list);
    }
    this.#faults = new FaultScheduler(rates, new Prng(hashSeed(seed, "faults")), {
      start,
      intervalMs,
      types,
    });
    this.#stats = {
      messages: 0,
      valid: 0,
      duplicates: 0,
      rejected: 0,
      dataFaults: Object.fromEntries(DATA_FAULT_KINDS.map((k) => [k, 0])) as Record<
        DataFaultKind,
        number
      >,
      episodes: this.#faults.episodeCounts,
      firstEventTime: null,
      lastEventTime: null,
    };
  }

  next(): SimMessage | null {
    if (this.#stats.messages >= this.#count) return null;
    if (this.#bufIdx >= this.#buf.length) this.#fill();
    if (this.#bufIdx >= this.#buf.length) return null;
    const m = this.#buf[this.#bufIdx++];
    this.#account(m);
    return m;
  }

  nextBatch(max: number): SimMessage[] {
    const out: SimMessage[] = [];
    while (out.length < max) {
      const m = this.next();
      if (m === null) break;
      out.push(m);
    }
    return out;
  }

  takeEpisodes(): Episode[] {
    return this.#faults.takeEpisodes();
  }

  finish(): Episode[] {
    return this.#faults.finish(this.#devices, this.#lastTick);
  }

  stats(): SimStats {
    return {
      ...this.#stats,
      dataFaults: { ...this.#stats.dataFaults },
      episodes: { ...this.#stats.episodes },
    };
  }

  /** Generates ticks until there is something to emit, or the run is over. */
  #fill(): void {
    while (this.#bufIdx >= this.#buf.length) {
      if (this.#ended) {
        if (this.#faults.pendingCount === 0) return;
        this.#buf = this.#faults.releaseAll();
        this.#bufIdx = 0;
        return;
      }
      const t = this.start + this.#tick * this.intervalMs;
      if (t >= this.#endTime || t >= END_OF_TIME) {
        this.#ended = true;
        continue;
      }
      this.#generateTick(t);
      this.#tick++;
    }
  }

  /** One reading per device at `t` (minus silent ones and delayed faults), after those due. */
  #generateTick(t: number): void {
    const out = this.#faults.release(t);
    this.#physics.step(t);
    this.#faults.startBuildingEpisodes(t, this.#energyByBuilding);
    const head = messageHead(t);
    for (const d of this.#devices) {
      const type = d.dev.type;
      const clean = this.#physics.cleanValue(d, t);
      const noise = this.#physics.noise(type, clean);
      this.#faults.advance(d, t);
      const raw = this.#faults.apply(d, t, clean, noise);
      if (raw === null) continue;
      const value = roundTo(raw, decimalsOf(type));
      const msg: SimMessage = {
        key: d.dev.deviceId,
        value: encodeReading(head, d, value),
        eventTime: t,
      };
      // null: delayed, emitted at a later tick.
      const emitted = this.#faults.dataFault(msg, d, t, value, head);
      if (emitted !== null) out.push(emitted);
    }
    this.#buf = out;
    this.#bufIdx = 0;
    this.#lastTick = t;
  }

  #account(m: SimMessage): void {
    const stats = this.#stats;
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
}
