/**
 * The sensor catalogue prepared for decode.ts's hot path: per reading field a getter (a plain
 * property read when the field has no aliases), the type list for messages, and the typed
 * extraction of the catalogue's `columns:`. Prepared once per catalogue (a WeakMap), so a
 * reloaded catalogue is prepared on its first message.
 *
 * @module
 */
import {
  type ColumnType,
  READING_FIELDS,
  type ReadingField,
  type SensorCatalogue,
} from "./catalogue.ts";
import type { ExtraValue } from "./reading.ts";

/**
 * A catalogue prepared for decoding: per reading field one getter (a plain property read when
 * the field has no aliases, the common case), the type list for messages, the columns.
 */
export interface Prepared {
  readonly cat: SensorCatalogue;
  readonly fields: Readonly<Record<ReadingField, FieldGetter>>;
  /** "temperature, humidity, …" (truncated), for `unknown_type` details. */
  readonly typeList: string;
  readonly columns: readonly { name: string; type: ColumnType; get: FieldGetter }[];
}

/** How to read one field: one own top-level key, or paths tried in order. */
export interface FieldGetter {
  /** The key when the field is one top-level key that Object.prototype lacks, else null. */
  readonly key: string | null;
  readonly paths: readonly (readonly string[])[];
}

const prepared = new WeakMap<SensorCatalogue, Prepared>();
const MAX_TYPES_LISTED = 12;

function getter(paths: readonly (readonly string[])[]): FieldGetter {
  const only = paths.length === 1 && paths[0].length === 1 ? paths[0][0] : null;
  // `constructor`, `toString`…: a plain read would find Object.prototype's.
  return { key: only !== null && !(only in Object.prototype) ? only : null, paths };
}

export function prepare(cat: SensorCatalogue): Prepared {
  let p = prepared.get(cat);
  if (p) return p;
  const names = [...cat.types.keys()];
  p = {
    cat,
    fields: Object.fromEntries(
      READING_FIELDS.map((f) => [f, getter(cat.fields[f])]),
    ) as Record<ReadingField, FieldGetter>,
    typeList: names.length > MAX_TYPES_LISTED
      ? `${names.slice(0, MAX_TYPES_LISTED).join(", ")}, … (${names.length} types)`
      : names.join(", "),
    columns: cat.columns.map((c) => ({ name: c.name, type: c.type, get: getter(c.paths) })),
  };
  prepared.set(cat, p);
  return p;
}

/**
 * A field's value: the first path whose value is present (neither undefined nor null), each
 * path an own property at every step. Undefined when none is.
 */
export function read(o: Record<string, unknown>, g: FieldGetter): unknown {
  if (g.key !== null) return o[g.key];
  for (const path of g.paths) {
    let v: unknown = o;
    for (const seg of path) {
      if (typeof v !== "object" || v === null || Array.isArray(v) || !Object.hasOwn(v, seg)) {
        v = undefined;
        break;
      }
      v = (v as Record<string, unknown>)[seg];
    }
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

/** The catalogue's `columns:` the payload carries, typed; a value of the wrong type is null. */
export function readExtras(
  o: Record<string, unknown>,
  p: Prepared,
): Record<string, ExtraValue> | null {
  let out: Record<string, ExtraValue> | null = null;
  for (const c of p.columns) {
    const v = read(o, c.get);
    if (v === undefined || v === null) continue;
    out ??= {};
    out[c.name] = c.type === "double"
      ? (typeof v === "number" ? v : null)
      : c.type === "integer"
      ? (Number.isSafeInteger(v) ? v as number : null)
      : c.type === "string"
      ? (typeof v === "string" ? v : null)
      : (typeof v === "boolean" ? v : null);
  }
  return out;
}
