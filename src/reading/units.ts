/**
 * Unit normalisation: every accepted unit of a type mapped to its canonical unit.
 *
 * The accepted spellings are deliberately few and exact (case-sensitive): a unit we do not know
 * is a `bad_unit` reject, never a guess, because a silently mis-converted temperature is worse
 * than a quarantined one.
 *
 * @module
 */
import type { CanonicalUnit, SensorType } from "./reading.ts";

/** The canonical unit of each type; a missing `unit` field means this unit. */
export const CANONICAL_UNITS: Readonly<Record<SensorType, CanonicalUnit>> = {
  temperature: "C",
  humidity: "%",
  co2: "ppm",
  energy: "kWh",
};

/** Converts a value in one accepted unit to the canonical unit. */
type Converter = (value: number) => number;

/**
 * Converted values are rounded to 1e-6 so that e.g. 71.6 °F gives 22 °C rather than
 * 22.000000000000004; no sensor is anywhere near that precise.
 */
function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

const identity: Converter = (v) => v;
const fahrenheitToC: Converter = (v) => round6((v - 32) * 5 / 9);
const kelvinToC: Converter = (v) => round6(v - 273.15);
const whToKWh: Converter = (v) => round6(v / 1000);

/** Accepted units per type and how each converts to the canonical unit. */
export const UNIT_CONVERSIONS: Readonly<Record<SensorType, Readonly<Record<string, Converter>>>> = {
  temperature: {
    "C": identity,
    "°C": identity,
    "F": fahrenheitToC,
    "°F": fahrenheitToC,
    "K": kelvinToC,
  },
  humidity: { "%": identity },
  co2: { "ppm": identity },
  energy: { "kWh": identity, "Wh": whToKWh },
};

/**
 * Normalises `value` given in `unit` to the canonical unit of `type`; returns undefined when the
 * unit is not accepted for that type.
 *
 * @example
 * ```ts
 * import { normalise } from "./units.ts";
 * normalise("temperature", 71.6, "°F"); // 22
 * normalise("energy", 1500, "Wh"); // 1.5
 * normalise("co2", 500, "kWh"); // undefined
 * ```
 */
export function normalise(type: SensorType, value: number, unit: string): number | undefined {
  const conv = Object.hasOwn(UNIT_CONVERSIONS[type], unit)
    ? UNIT_CONVERSIONS[type][unit]
    : undefined;
  return conv === undefined ? undefined : conv(value);
}

/** Converts a canonical value back into `unit` (used by the simulator's wrong-unit faults). */
export function denormalise(type: SensorType, value: number, unit: string): number {
  switch (`${type}:${unit}`) {
    case "temperature:F":
    case "temperature:°F":
      return round6(value * 9 / 5 + 32);
    case "temperature:K":
      return round6(value + 273.15);
    case "energy:Wh":
      return round6(value * 1000);
    default:
      return value;
  }
}
