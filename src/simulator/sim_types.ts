/**
 * Which sensor types the simulator makes, from the sensor catalogue: the brief's four keep
 * their built-in site physics (physics.ts: HVAC, occupancy, CO2 lag, meters), and any catalogue
 * type with a `simulate:` block (base, amplitude, noise) gets a generic signal — a daily swing
 * around its base with bounded noise (a `simulate:` block on a built-in name replaces its
 * physics). Types with neither are not simulated.
 *
 * With the repository catalogue this is the four types in their order, so the same seed gives
 * byte-identical messages whichever way the simulator is started.
 *
 * @module
 */
import type { Band, SensorCatalogue, SimulateSpec } from "../reading/catalogue.ts";
import { SENSOR_TYPES } from "../reading/reading.ts";
import { CANONICAL_UNITS } from "../reading/units.ts";

/** A simulated type: plain data, so it crosses to producer workers as is. */
export interface SimType {
  readonly name: string;
  /** Canonical unit the messages carry. */
  readonly unit: string;
  /** The generic signal, or null for a type with built-in physics. */
  readonly simulate: SimulateSpec | null;
  /** Plausible range (generic signals are kept inside it). */
  readonly range: Band;
}

/** The brief's four types with built-in physics (the default when no catalogue is given). */
export const BUILTIN_SIM_TYPES: readonly SimType[] = SENSOR_TYPES.map((name) => ({
  name,
  unit: CANONICAL_UNITS[name],
  simulate: null,
  range: [null, null],
}));

/** The catalogue's simulated types, in catalogue order. */
export function simulatedTypes(cat: SensorCatalogue): SimType[] {
  const out: SimType[] = [];
  for (const t of cat.types.values()) {
    if (t.simulate === null && !SENSOR_TYPES.includes(t.name)) continue;
    out.push({ name: t.name, unit: t.unit, simulate: t.simulate, range: t.range });
  }
  return out;
}
