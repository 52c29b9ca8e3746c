/**
 * The sensor reading: the one typed shape every source (Kafka, files, simulator) is reduced to.
 *
 * Values are always in the canonical unit of their type (see `CANONICAL_UNITS` in units.ts), so
 * downstream SQL never needs to know which unit a device happened to send.
 *
 * @module
 */

/** The sensor types the site knows; anything else is rejected as `unknown_type`. */
export type SensorType = "temperature" | "humidity" | "co2" | "energy";

/** Canonical units, one per type: °C, %RH, ppm and kWh. */
export type CanonicalUnit = "C" | "%" | "ppm" | "kWh";

/** Every sensor type, in a stable order (used for topology and iteration). */
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

/**
 * Partition values taken from a payload before (or despite) validation. Each is the payload's
 * string only when it is a safe identifier, so it can become a directory name of a partitioned
 * table without any path tricks; otherwise null.
 */
export interface PartitionHints {
  building: string | null;
  type: string | null;
}

/** The outcome of decoding one payload; never thrown, always returned. */
export type DecodeResult =
  | { ok: true; reading: Reading; hints: PartitionHints }
  | { ok: false; reason: string; detail: string; hints: PartitionHints };

/** True for the four known sensor types. */
export function isSensorType(value: unknown): value is SensorType {
  return value === "temperature" || value === "humidity" || value === "co2" || value === "energy";
}
