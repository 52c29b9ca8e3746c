/**
 * The sensor catalogue: which sensor types exist, their units, plausible ranges, alarm bands and
 * rule parameters, how payload fields are spelled, and which optional fields become silver
 * columns. It is data (`sensors.yaml`, see docs/sensors.md), read by every layer: decoding,
 * the simulator, gold and alarms, the dashboard and scoring. Nothing else names a sensor type.
 *
 * This module is the contract: plain types and pure helpers. Loading and validating a file is
 * catalogue_file.ts; the catalogue as DuckDB tables (so SQL joins it instead of repeating it) is
 * catalogue_sql.ts.
 *
 * @module
 */

/** A type name: `[a-z][a-z0-9_]{0,63}`, also its partition value. */
export type TypeName = string;

/** `[low, high]`, either side null for "no limit on that side". */
export type Band = readonly [number | null, number | null];

/** How an accepted spelling converts to the canonical unit: `value * scale + offset`. */
export interface UnitConversion {
  readonly scale: number;
  readonly offset: number;
}

/** How a type's readings aggregate over time: a level is averaged, a counter summed. */
export type Aggregation = "mean" | "sum";

/** Alarm parameters of one type (all in canonical units). */
export interface TypeThresholds {
  /** Band rule: outside `warning` is a warning, outside `critical` critical. */
  readonly warning: Band;
  readonly critical: Band;
  /** The band rule's episode must last this long (seconds). */
  readonly minDurationS: number | null;
  /** Spike rule: the largest plausible change between consecutive readings (absolute). */
  readonly maxStep: number | null;
  /** Spike rule for load-dependent signals: the largest plausible ratio between readings. */
  readonly maxStepRatio: number | null;
  /** Z-score rule: floors of the robust scale, absolute and relative to the median. */
  readonly zMinScale: number | null;
  readonly zMinScaleRel: number | null;
  /** Flatline rule: the same value for this long is a stuck sensor (seconds; null = rule off). */
  readonly flatlineS: number | null;
}

/** How the simulator makes this type's clean signal (optional: types without it are not simulated). */
export interface SimulateSpec {
  /** Mean level in canonical units. */
  readonly base: number;
  /** Daily swing (peak-to-mean), canonical units. */
  readonly amplitude: number;
  /** Bounded noise per reading, canonical units. */
  readonly noise: number;
}

/** One sensor type. */
export interface SensorTypeSpec {
  readonly name: TypeName;
  /** Canonical unit stored in silver; a payload without `unit` means this unit. */
  readonly unit: string;
  /** Accepted spellings → conversion, the canonical unit itself always included (1, 0). */
  readonly units: ReadonlyMap<string, UnitConversion>;
  /** Plausible physical range (canonical units, inclusive); outside is `out_of_range`. */
  readonly range: Band;
  readonly aggregate: Aggregation;
  readonly thresholds: TypeThresholds;
  readonly simulate: SimulateSpec | null;
}

/** The payload fields a reading is made of. */
export const READING_FIELDS = [
  "timestamp",
  "device_id",
  "building",
  "floor",
  "type",
  "value",
  "unit",
] as const;
export type ReadingField = typeof READING_FIELDS[number];

/** Silver column types a `columns:` entry may ask for. */
export type ColumnType = "double" | "integer" | "string" | "boolean";

/** An optional payload field promoted to a nullable silver column. */
export interface ExtraColumn {
  /** Silver column name (`[a-z][a-z0-9_]*`, not a built-in column). */
  readonly name: string;
  readonly type: ColumnType;
  /** Payload paths tried in order (first present wins); dotted paths reach into objects. */
  readonly paths: readonly (readonly string[])[];
}

/** The whole catalogue. */
export interface SensorCatalogue {
  /** Types in file order (stable: iteration, dashboards, topology). */
  readonly types: ReadonlyMap<TypeName, SensorTypeSpec>;
  /** Per reading field, the payload paths tried in order (a path is its dotted segments). */
  readonly fields: Readonly<Record<ReadingField, readonly (readonly string[])[]>>;
  readonly columns: readonly ExtraColumn[];
  /** Where it came from (a file path, or "built-in"), for messages. */
  readonly source: string;
  /** SHA-256 prefix of the normalised content: changes when anything that matters changes. */
  readonly fingerprint: string;
}

/** The type names, in catalogue order. */
export function typeNames(cat: SensorCatalogue): TypeName[] {
  return [...cat.types.keys()];
}
