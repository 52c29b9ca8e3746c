/**
 * The sensor reading: the one typed shape every source (Kafka, files, simulator) is reduced to.
 *
 * Values are always in the canonical unit of their type (the catalogue's `unit`, see
 * catalogue.ts), so downstream SQL never needs to know which unit a device happened to send.
 *
 * @module
 */

/**
 * A sensor type: a name from the sensor catalogue (sensors.yaml), `[a-z][a-z0-9_]{0,63}`;
 * anything the catalogue does not list is rejected as `unknown_type`.
 */
export type SensorType = string;

/** A canonical unit: the catalogue's `unit` of a type (°C is "C", %RH "%", "ppm", "kWh"…). */
export type CanonicalUnit = string;

/**
 * The brief's four types, in the repository catalogue's order. Code that knows the catalogue
 * uses `typeNames(catalogue)` instead; this stays for the simulator's built-in physics.
 */
export const SENSOR_TYPES: readonly SensorType[] = ["temperature", "humidity", "co2", "energy"];

/** A validated, normalised reading. */
export interface Reading {
  /** Event time, epoch milliseconds UTC (integer). */
  timestamp: number;
  deviceId: string;
  building: string;
  /** Integer floor, −10..300 (basements are negative). */
  floor: number;
  type: SensorType;
  /** Value in the canonical unit of `type`. */
  value: number;
  unit: CanonicalUnit;
}

/** A value of a catalogue `columns:` field: typed per the catalogue, null when of the wrong type. */
export type ExtraValue = number | string | boolean | null;

/**
 * Partition values taken from a payload before (or despite) validation. Each is the payload's
 * string only when it is a safe identifier, so it can become a directory name of a partitioned
 * table without any path tricks; otherwise null.
 */
export interface PartitionHints {
  building: string | null;
  type: string | null;
}

/**
 * The outcome of decoding one reading; never thrown, always returned. `extras` holds the
 * catalogue's `columns:` fields the payload carried (null when it carried none, or the
 * catalogue has none).
 */
export type DecodeResult =
  | { ok: true; reading: Reading; hints: PartitionHints; extras: Record<string, ExtraValue> | null }
  | { ok: false; reason: string; detail: string; hints: PartitionHints };

/** True for the brief's four types (see {@link SENSOR_TYPES}). */
export function isSensorType(value: unknown): value is SensorType {
  return value === "temperature" || value === "humidity" || value === "co2" || value === "energy";
}
