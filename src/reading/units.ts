/**
 * Unit normalisation: every accepted spelling of a type's unit mapped to its canonical unit,
 * as the sensor catalogue declares (`units:` → `value * scale + offset`).
 *
 * The accepted spellings are deliberately few and exact (case-sensitive): a unit we do not know
 * is a `bad_unit` reject, never a guess, because a silently mis-converted temperature is worse
 * than a quarantined one.
 *
 * @module
 */
import type { SensorCatalogue, SensorTypeSpec, UnitConversion } from "./catalogue.ts";
import { builtinCatalogue } from "./catalogue_file.ts";

/**
 * The canonical unit of each of the repository catalogue's types (the brief's four: C, %, ppm,
 * kWh); a missing `unit` field means this unit. Catalogue-aware code reads `spec.unit`.
 */
export const CANONICAL_UNITS: Readonly<Record<string, string>> = Object.fromEntries(
  [...builtinCatalogue().types.values()].map((t) => [t.name, t.unit]),
);

/**
 * Converted values are rounded to 1e-6 so that e.g. 71.6 °F gives 22 °C rather than
 * 22.000000000000004; no sensor is anywhere near that precise. The canonical unit itself
 * (scale 1, offset 0) is kept exactly as sent.
 */
export function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** `value` in a spelling with conversion `c`, in the canonical unit. */
export function convert(c: UnitConversion, value: number): number {
  return c.scale === 1 && c.offset === 0 ? value : round6(value * c.scale + c.offset);
}

function specOf(type: string | SensorTypeSpec, cat: SensorCatalogue): SensorTypeSpec | undefined {
  return typeof type === "string" ? cat.types.get(type) : type;
}

/**
 * Normalises `value` given in `unit` to the canonical unit of `type`; returns undefined when the
 * unit (or the type) is not in the catalogue (default: the repository's).
 *
 * @example
 * ```ts
 * import { normalise } from "./units.ts";
 * normalise("temperature", 71.6, "°F"); // 22
 * normalise("energy", 1500, "Wh"); // 1.5
 * normalise("co2", 500, "kWh"); // undefined
 * ```
 */
export function normalise(
  type: string | SensorTypeSpec,
  value: number,
  unit: string,
  cat: SensorCatalogue = builtinCatalogue(),
): number | undefined {
  const c = specOf(type, cat)?.units.get(unit);
  return c === undefined ? undefined : convert(c, value);
}

/**
 * Converts a canonical value back into `unit` (the simulator's wrong-unit faults); the value
 * unchanged when the unit is not the type's.
 */
export function denormalise(
  type: string | SensorTypeSpec,
  value: number,
  unit: string,
  cat: SensorCatalogue = builtinCatalogue(),
): number {
  const c = specOf(type, cat)?.units.get(unit);
  if (c === undefined || (c.scale === 1 && c.offset === 0)) return value;
  return round6((value - c.offset) / c.scale);
}
