/**
 * Site layout: buildings × floors × devices of each sensor type.
 *
 * Device ids read like `A-F2-temperature-01` (building, floor, type, 1-based index) so that a
 * building engineer can find the sensor from an alarm row, and they are stable: the same counts
 * always give the same ids in the same order, which the simulator's determinism relies on.
 *
 * @module
 */
import { SENSOR_TYPES, type SensorType } from "../reading/reading.ts";

/** Counts that define a site. */
export interface TopologyOptions {
  /** Number of buildings, named A, B, … Z, AA, AB, … (default 3). */
  buildings?: number;
  /** Floors per building, numbered 0 .. floors-1 (default 3). */
  floors?: number;
  /** Devices per floor of each type (default 1). */
  devicesPerFloor?: number;
}

/** One sensor of the site. */
export interface Device {
  deviceId: string;
  building: string;
  floor: number;
  type: SensorType;
  /** 0-based index among devices of the same type on the same floor. */
  index: number;
  /** Position in `Topology.devices` (stable ordinal used by the simulator). */
  ordinal: number;
}

/** A site: its buildings, floors and every device in a stable order. */
export interface Topology {
  buildings: string[];
  floors: number;
  devicesPerFloor: number;
  /** Devices ordered by building, floor, type (the simulated types' order), index. */
  devices: Device[];
}

/** Upper bounds that keep a simulated site within sane sizes (and ids within 64 chars). */
export const TOPOLOGY_LIMITS = { buildings: 702, floors: 300, devicesPerFloor: 99 } as const;

/** Raised for impossible site sizes. */
export class TopologyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TopologyError";
  }
}

/**
 * Spreadsheet-style building name for a 0-based index: 0 → A, 25 → Z, 26 → AA.
 *
 * @example
 * ```ts
 * import { buildingName } from "./topology.ts";
 * buildingName(27); // "AB"
 * ```
 */
export function buildingName(index: number): string {
  let n = index + 1;
  let s = "";
  while (n > 0) {
    const r = (n - 1) % 26;
    s = String.fromCharCode(65 + r) + s;
    n = Math.floor((n - 1) / 26);
  }
  return s;
}

/** The id of a device: `<building>-F<floor>-<type>-<nn>`, nn 1-based and zero-padded. */
export function deviceIdOf(
  building: string,
  floor: number,
  type: SensorType,
  index: number,
): string {
  return `${building}-F${floor}-${type}-${String(index + 1).padStart(2, "0")}`;
}

/**
 * Builds the site layout: on every floor, `devicesPerFloor` devices of each of `types` (default
 * the brief's four), in that order.
 *
 * @example
 * ```ts
 * import { buildTopology } from "./topology.ts";
 * const t = buildTopology({ buildings: 1, floors: 1, devicesPerFloor: 1 });
 * t.devices.map((d) => d.deviceId);
 * // ["A-F0-temperature-01", "A-F0-humidity-01", "A-F0-co2-01", "A-F0-energy-01"]
 * ```
 */
export function buildTopology(
  opts: TopologyOptions = {},
  types: readonly SensorType[] = SENSOR_TYPES,
): Topology {
  const nb = opts.buildings ?? 3;
  const nf = opts.floors ?? 3;
  const nd = opts.devicesPerFloor ?? 1;
  for (const [name, v] of [["buildings", nb], ["floors", nf], ["devicesPerFloor", nd]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > TOPOLOGY_LIMITS[name]) {
      throw new TopologyError(
        `${name} must be an integer in 1..${TOPOLOGY_LIMITS[name]}, got ${v}`,
      );
    }
  }
  const buildings = Array.from({ length: nb }, (_, i) => buildingName(i));
  const devices: Device[] = [];
  for (const building of buildings) {
    for (let floor = 0; floor < nf; floor++) {
      for (const type of types) {
        for (let index = 0; index < nd; index++) {
          devices.push({
            deviceId: deviceIdOf(building, floor, type, index),
            building,
            floor,
            type,
            index,
            ordinal: devices.length,
          });
        }
      }
    }
  }
  return { buildings, floors: nf, devicesPerFloor: nd, devices };
}
