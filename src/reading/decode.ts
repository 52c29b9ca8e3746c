/**
 * The one decode/validate function shared by the Kafka consumer and the file source.
 *
 * `decodeReading` is pure and total: it never throws, whatever the bytes, and returns either a
 * normalised {@link Reading} or a stable reason code with a short human detail. Bronze and
 * quarantine partition on the returned `hints`, which are only ever safe identifiers.
 *
 * What a payload may hold comes from the sensor catalogue (`opts.catalogue`, default the
 * repository's sensors.yaml): its types, their units (spelling → scale/offset) and plausible
 * ranges, how each reading field is spelled (aliases, first present wins; dotted paths reach
 * into objects), and the optional `columns:` fields returned typed as `extras`. With the
 * repository's catalogue the outcome of every payload is what it was before the catalogue.
 *
 * Choices worth knowing (each one is tested):
 * - `null` in a required field counts as missing (`missing_field:<f>`): JSON producers commonly
 *   serialise absent optionals as null, and the reading is unusable either way.
 * - Numbers sent as strings (`"value": "22.5"`) are `bad_type:value`: strict typing keeps a
 *   producer bug visible in quarantine instead of silently coerced.
 * - Duplicate JSON keys: `JSON.parse` keeps the last occurrence; so do we.
 * - Extra fields are ignored, except the catalogue's `columns:`: those are returned typed, a
 *   value of the wrong type as null (the reading is kept: an optional field never rejects).
 * - A payload without `type` whose top-level keys name catalogue types is wide: one reading per
 *   such key ({@link decodeMessage}).
 * - A zoneless ISO timestamp (`2025-12-15T10:00:00`) is read as UTC, the site's event-time zone.
 * - Epoch numbers: below 1e11 they are seconds, otherwise milliseconds (1e11 s is year 5138,
 *   1e11 ms is March 1973), so millisecond epochs before 1973-03-03 cannot be expressed; they
 *   would be read as seconds and rejected as far future.
 * - Years outside 1970..2100, NaN and Infinity are `bad_timestamp`; a value that overflows to
 *   Infinity (`1e999`) is `out_of_range`. Raw `NaN` is not JSON, hence `malformed_json`.
 * - Timestamps are kept to whole milliseconds (finer ISO fractions are truncated).
 *
 * Speed: this runs on every message (>150k/s on one thread), so it does one `JSON.parse`, a
 * reused fatal `TextDecoder`, character loops instead of regular expressions, and no allocation
 * beyond the result on the happy path. The catalogue costs Map gets (type, unit), never a scan
 * over its types, so 40 types decode as fast as 4; a field without aliases is a plain property
 * read.
 *
 * @module
 */
import {
  type ColumnType,
  READING_FIELDS,
  type ReadingField,
  type SensorCatalogue,
  type SensorTypeSpec,
} from "./catalogue.ts";
import { builtinCatalogue } from "./catalogue_file.ts";
import type { DecodeResult, ExtraValue, PartitionHints, Reading } from "./reading.ts";
import { convert } from "./units.ts";

export type { DecodeResult, PartitionHints } from "./reading.ts";

/**
 * Default payload size limit. A reading is ~150 bytes; 64 KiB leaves room for verbose
 * producers while keeping hostile multi-megabyte messages (and deep nesting) out of JSON.parse.
 */
export const DEFAULT_MAX_BYTES = 64 * 1024;

/**
 * Plausible physical ranges of the repository catalogue's types (`range:` in sensors.yaml),
 * canonical units, inclusive. Values outside are `out_of_range`: broken sensors, not weather.
 * Decoding reads the catalogue it is given; this table is for callers that name the brief's types.
 */
export const PLAUSIBLE_RANGES: Readonly<Record<string, { min: number; max: number }>> = Object
  .fromEntries(
    [...builtinCatalogue().types.values()].map((t) => [
      t.name,
      { min: t.range[0] ?? -Infinity, max: t.range[1] ?? Infinity },
    ]),
  );

/** Floors allowed (negative for basements). */
export const FLOOR_RANGE = { min: -10, max: 300 } as const;

/** Event-time bounds: 1970-01-01T00:00:00Z inclusive .. 2101-01-01T00:00:00Z exclusive. */
export const TIMESTAMP_RANGE = { min: 0, maxExclusive: Date.UTC(2101, 0, 1) } as const;

/** Maximum length of a safe identifier (device id, building, partition value). */
export const MAX_IDENTIFIER_LENGTH = 64;

/** Options of {@link decodeReading}. */
export interface DecodeOptions {
  /** Reject payloads larger than this many bytes as `too_large` (default 64 KiB). */
  maxBytes?: number;
  /**
   * The ingest clock, epoch ms. When given, a timestamp more than `futureToleranceMs` ahead of
   * it is `future_timestamp`: a device clock far ahead would otherwise become every reader's
   * "now". Passed in, not read here, so decoding stays a pure function of its arguments.
   */
  nowMs?: number;
  /** How far ahead of `nowMs` a timestamp may be, ms (default 300,000: 5 minutes). */
  futureToleranceMs?: number;
  /**
   * The sensor catalogue: types, units, ranges, field aliases, extra columns (default: the
   * repository's sensors.yaml, the brief's four types).
   */
  catalogue?: SensorCatalogue;
}

/** Default of {@link DecodeOptions.futureToleranceMs}: clock skew and batching, not more. */
export const DEFAULT_FUTURE_TOLERANCE_MS = 5 * 60_000;

const DETAIL_VALUE_MAX = 80;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const NO_HINTS: PartitionHints = Object.freeze({ building: null, type: null }) as PartitionHints;

/**
 * True when `s` is `[A-Za-z0-9][A-Za-z0-9_.-]{0,63}`: usable as a partition directory name
 * (no `/`, `\`, `%`, NUL, spaces, no leading dot so never `.` or `..`).
 *
 * @example
 * ```ts
 * import { isSafeIdentifier } from "./decode.ts";
 * isSafeIdentifier("A-F2-temperature-01"); // true
 * isSafeIdentifier("../../etc"); // false
 * ```
 */
export function isSafeIdentifier(s: unknown): s is string {
  if (typeof s !== "string") return false;
  const n = s.length;
  if (n === 0 || n > MAX_IDENTIFIER_LENGTH) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    if (alnum) continue;
    if (i > 0 && (c === 95 /* _ */ || c === 46 /* . */ || c === 45 /* - */)) continue;
    return false;
  }
  return true;
}

/** Renders an offending value for a detail message, truncated to ~80 characters. */
export function showValue(v: unknown): string {
  let s: string;
  try {
    s = typeof v === "string"
      ? JSON.stringify(v)
      : v === undefined
      ? "undefined"
      : String(JSON.stringify(v));
  } catch {
    s = String(v);
  }
  return s.length > DETAIL_VALUE_MAX ? `${s.slice(0, DETAIL_VALUE_MAX)}… (${s.length} chars)` : s;
}

function reject(reason: string, detail: string, hints: PartitionHints): DecodeResult {
  return { ok: false, reason, detail, hints };
}

function kindOf(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/**
 * UTF-8 byte length of a JS string, without encoding it. Lone surrogates count 3 bytes,
 * as TextEncoder would write U+FFFD.
 */
function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * A catalogue prepared for decoding: per reading field one getter (a plain property read when
 * the field has no aliases, the common case), the type list for messages, the columns.
 */
interface Prepared {
  readonly cat: SensorCatalogue;
  readonly fields: Readonly<Record<ReadingField, FieldGetter>>;
  /** "temperature, humidity, …" (truncated), for `unknown_type` details. */
  readonly typeList: string;
  readonly columns: readonly { name: string; type: ColumnType; get: FieldGetter }[];
}

/** How to read one field: one own top-level key, or paths tried in order. */
interface FieldGetter {
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

function prepare(cat: SensorCatalogue): Prepared {
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
function read(o: Record<string, unknown>, g: FieldGetter): unknown {
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
function readExtras(o: Record<string, unknown>, p: Prepared): Record<string, ExtraValue> | null {
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

/** Scratch for {@link decodeReading}: its one-reading answer needs no array of its own. */
const scratch: DecodeResult[] = [];

/**
 * Decodes and validates one payload holding one reading (Kafka message value or one file
 * record); for a wide payload (several readings, see {@link decodeMessage}) its first reading.
 *
 * Reason codes are stable (they are partition-independent values in quarantine):
 * `too_large`, `invalid_utf8`, `malformed_json`, `not_an_object`, `missing_field:<f>`,
 * `bad_type:<f>`, `bad_identifier:<f>`, `unknown_type`, `bad_unit`, `bad_timestamp`,
 * `out_of_range`, `bad_floor`, `future_timestamp` (only with `nowMs`). Fields are checked in the order type, device_id, building,
 * floor, timestamp, value, unit, so a payload with several faults always gets the same reason.
 *
 * @example
 * ```ts
 * import { decodeReading } from "./decode.ts";
 * const r = decodeReading(
 *   '{"timestamp":"2025-12-15T10:00:00Z","device_id":"sensor_001","building":"A","floor":2,' +
 *     '"type":"temperature","value":71.6,"unit":"°F"}',
 * );
 * if (r.ok) console.log(r.reading.value); // 22
 * ```
 */
export function decodeReading(payload: Uint8Array | string, opts?: DecodeOptions): DecodeResult {
  decodeMessage(payload, opts, scratch);
  const first = scratch[0];
  scratch.length = 0;
  return first;
}

/**
 * Decodes one payload into the outcomes of the readings it carries, appended to `out` (which
 * is cleared first and returned; pass one array and reuse it). A narrow payload (with a `type`
 * field) and a payload rejected before its readings can be told apart give exactly one outcome;
 * a wide payload — no `type`, top-level keys naming catalogue types, as multi-sensor room
 * devices send (`{"device_id":…,"timestamp":…,"temperature":22.5,"co2":650}`) — gives one per
 * such key, in the payload's key order: the value under the key, in the unit `<type>_unit`
 * (default the canonical unit), the other fields shared. Each outcome's `hints.type` is its
 * type, so a rejected reading of a wide payload lands in its own type's partition; a fault in
 * a shared field rejects every reading of the payload with the same reason.
 */
export function decodeMessage(
  payload: Uint8Array | string,
  opts?: DecodeOptions,
  out: DecodeResult[] = [],
): DecodeResult[] {
  out.length = 0;
  const maxBytes = opts?.maxBytes ?? DEFAULT_MAX_BYTES;
  let text: string;
  if (typeof payload === "string") {
    // A UTF-8 string is at most 3 bytes per UTF-16 unit, so short strings skip the count.
    if (
      payload.length > maxBytes || (payload.length * 3 > maxBytes && utf8Length(payload) > maxBytes)
    ) {
      out.push(reject("too_large", `payload exceeds ${maxBytes} bytes`, NO_HINTS));
      return out;
    }
    // A leading BOM is dropped, as decoding the same payload from bytes drops it.
    text = payload.charCodeAt(0) === 0xfeff ? payload.slice(1) : payload;
  } else {
    if (payload.byteLength > maxBytes) {
      out.push(
        reject("too_large", `payload is ${payload.byteLength} bytes, limit ${maxBytes}`, NO_HINTS),
      );
      return out;
    }
    try {
      text = utf8.decode(payload);
    } catch {
      out.push(reject("invalid_utf8", "payload is not valid UTF-8", NO_HINTS));
      return out;
    }
  }

  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    // SyntaxError for bad JSON; RangeError if an engine ever recursed too deep on nesting.
    const msg = err instanceof Error ? err.message : String(err);
    out.push(reject("malformed_json", `not valid JSON: ${showValue(msg)}`, NO_HINTS));
    return out;
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    out.push(reject("not_an_object", `expected a JSON object, got ${kindOf(obj)}`, NO_HINTS));
    return out;
  }
  decodeObject(
    obj as Record<string, unknown>,
    prepare(opts?.catalogue ?? builtinCatalogue()),
    opts,
    out,
  );
  return out;
}

/** Decodes a parsed payload object into `out` (see {@link decodeMessage}). */
function decodeObject(
  o: Record<string, unknown>,
  p: Prepared,
  opts: DecodeOptions | undefined,
  out: DecodeResult[],
): void {
  const f = p.fields;
  const rawType = read(o, f.type);
  const rawBuilding = read(o, f.building);
  const building = isSafeIdentifier(rawBuilding) ? rawBuilding : null;

  // type
  if (rawType === undefined || rawType === null) {
    if (decodeWide(o, p, opts, building, rawBuilding, out)) return;
    out.push(missing("type", { building, type: null }));
    return;
  }
  const hints: PartitionHints = { building, type: isSafeIdentifier(rawType) ? rawType : null };
  if (typeof rawType !== "string") {
    return void out.push(badType("type", rawType, "a string", hints));
  }
  const spec = p.cat.types.get(rawType);
  if (spec === undefined) {
    out.push(reject(
      "unknown_type",
      `type ${showValue(rawType)} is not one of ${p.typeList}`,
      hints,
    ));
    return;
  }
  const common = decodeCommon(o, p, opts, rawBuilding, hints);
  if ("ok" in common) return void out.push(common);
  out.push(decodeValue(common, spec, read(o, f.value), read(o, f.unit), hints, readExtras(o, p)));
}

/** The fields a wide payload's readings share, once validated. */
interface Common {
  deviceId: string;
  building: string;
  floor: number;
  timestamp: number;
}

/**
 * Validates the fields every reading of a payload shares (device_id, building, floor,
 * timestamp, in that order): their values, or the reject of the first that fails.
 */
function decodeCommon(
  o: Record<string, unknown>,
  p: Prepared,
  opts: DecodeOptions | undefined,
  rawBuilding: unknown,
  hints: PartitionHints,
): Common | DecodeResult {
  const f = p.fields;
  // device_id
  const deviceId = read(o, f.device_id);
  if (deviceId === undefined || deviceId === null) return missing("device_id", hints);
  if (typeof deviceId !== "string") return badType("device_id", deviceId, "a string", hints);
  if (!isSafeIdentifier(deviceId)) return badIdentifier("device_id", deviceId, hints);

  // building
  if (rawBuilding === undefined || rawBuilding === null) return missing("building", hints);
  if (typeof rawBuilding !== "string") return badType("building", rawBuilding, "a string", hints);
  if (hints.building === null) return badIdentifier("building", rawBuilding, hints);
  const building = rawBuilding;

  // floor
  const floor = read(o, f.floor);
  if (floor === undefined || floor === null) return missing("floor", hints);
  if (typeof floor !== "number") return badType("floor", floor, "an integer", hints);
  if (!Number.isInteger(floor) || floor < FLOOR_RANGE.min || floor > FLOOR_RANGE.max) {
    return reject(
      "bad_floor",
      `floor ${showValue(floor)} is not an integer in ${FLOOR_RANGE.min}..${FLOOR_RANGE.max}`,
      hints,
    );
  }

  // timestamp
  const rawTs = read(o, f.timestamp);
  if (rawTs === undefined || rawTs === null) return missing("timestamp", hints);
  let timestamp: number;
  if (typeof rawTs === "string") timestamp = parseIsoTimestamp(rawTs);
  else if (typeof rawTs === "number") timestamp = epochToMillis(rawTs);
  else return badType("timestamp", rawTs, "an ISO-8601 string or epoch number", hints);
  if (
    !(timestamp >= TIMESTAMP_RANGE.min && timestamp < TIMESTAMP_RANGE.maxExclusive)
  ) {
    return reject(
      "bad_timestamp",
      `timestamp ${showValue(rawTs)} is not a valid time between 1970 and 2100`,
      hints,
    );
  }
  if (
    opts?.nowMs !== undefined &&
    timestamp > opts.nowMs + (opts.futureToleranceMs ?? DEFAULT_FUTURE_TOLERANCE_MS)
  ) {
    return reject(
      "future_timestamp",
      `timestamp ${showValue(rawTs)} is ${
        Math.round((timestamp - opts.nowMs) / 1000)
      } s ahead of the ingest clock (${new Date(opts.nowMs).toISOString()}; tolerance ${
        (opts.futureToleranceMs ?? DEFAULT_FUTURE_TOLERANCE_MS) / 1000
      } s)`,
      hints,
    );
  }
  return { deviceId, building, floor, timestamp };
}

/** Validates one value (and its unit) of `spec`'s type into a reading or a reject. */
function decodeValue(
  common: Common,
  spec: SensorTypeSpec,
  rawValue: unknown,
  rawUnit: unknown,
  hints: PartitionHints,
  extras: Record<string, ExtraValue> | null,
): DecodeResult {
  // value
  if (rawValue === undefined || rawValue === null) return missing("value", hints);
  if (typeof rawValue !== "number") return badType("value", rawValue, "a number", hints);

  // unit
  let value: number;
  if (rawUnit === undefined || rawUnit === null) value = rawValue;
  else if (typeof rawUnit !== "string") return badType("unit", rawUnit, "a string", hints);
  else {
    const conv = spec.units.get(rawUnit);
    if (conv === undefined) {
      return reject(
        "bad_unit",
        `unit ${showValue(rawUnit)} is not accepted for ${spec.name}`,
        hints,
      );
    }
    value = convert(conv, rawValue);
  }
  const [min, max] = spec.range;
  if (!Number.isFinite(value) || (min !== null && value < min) || (max !== null && value > max)) {
    return reject(
      "out_of_range",
      `${spec.name} ${showValue(value)} ${spec.unit} is outside ${min ?? "-inf"}..${max ?? "inf"}`,
      hints,
    );
  }

  const reading: Reading = {
    timestamp: common.timestamp,
    deviceId: common.deviceId,
    building: common.building,
    floor: common.floor,
    type: spec.name,
    value,
    unit: spec.unit,
  };
  return { ok: true, reading, hints, extras };
}

/**
 * A payload without a type: when top-level keys name catalogue types, one outcome per such key
 * goes to `out` and the answer is true; otherwise nothing (the caller rejects `missing_field:type`).
 */
function decodeWide(
  o: Record<string, unknown>,
  p: Prepared,
  opts: DecodeOptions | undefined,
  building: string | null,
  rawBuilding: unknown,
  out: DecodeResult[],
): boolean {
  const types = p.cat.types;
  for (const key of Object.keys(o)) {
    const spec = types.get(key);
    if (spec !== undefined) out.push(wideStub(spec, building));
  }
  if (out.length === 0) return false;
  const shared = decodeCommon(o, p, opts, rawBuilding, out[0].hints);
  const extras = readExtras(o, p);
  for (let i = 0; i < out.length; i++) {
    const hints = out[i].hints;
    if ("ok" in shared) {
      out[i] = shared.ok
        ? shared
        : { ok: false, reason: shared.reason, detail: shared.detail, hints };
      continue;
    }
    const spec = types.get(hints.type!)!;
    out[i] = decodeValue(shared, spec, o[spec.name], o[`${spec.name}_unit`], hints, extras);
  }
  return true;
}

/** A placeholder outcome holding a wide reading's type until it is decoded. */
function wideStub(spec: SensorTypeSpec, building: string | null): DecodeResult {
  return { ok: false, reason: "", detail: "", hints: { building, type: spec.name } };
}

function missing(field: string, hints: PartitionHints): DecodeResult {
  return reject(`missing_field:${field}`, `required field "${field}" is missing or null`, hints);
}

function badType(field: string, v: unknown, expected: string, hints: PartitionHints): DecodeResult {
  return reject(
    `bad_type:${field}`,
    `"${field}" must be ${expected}, got ${kindOf(v)} ${showValue(v)}`,
    hints,
  );
}

function badIdentifier(field: string, v: string, hints: PartitionHints): DecodeResult {
  return reject(
    `bad_identifier:${field}`,
    `"${field}" ${showValue(v)} is not a safe identifier ([A-Za-z0-9][A-Za-z0-9_.-]{0,63})`,
    hints,
  );
}

/**
 * Epoch seconds (< 1e11) or milliseconds to integer ms; NaN when not finite. Seconds are
 * rounded to the nearest ms because `1765792800.1 * 1000` is 1765792800099.9998 in binary
 * floating point; milliseconds are truncated like ISO fractions.
 */
export function epochToMillis(n: number): number {
  if (!Number.isFinite(n)) return NaN;
  return Math.abs(n) < 1e11 ? Math.round(n * 1000) : Math.floor(n);
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Reads `len` ASCII digits at `i`; -1 when any is not a digit. */
function digits(s: string, i: number, len: number): number {
  let n = 0;
  for (let k = 0; k < len; k++) {
    const c = s.charCodeAt(i + k) - 48;
    if (!(c >= 0 && c <= 9)) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * Parses ISO-8601 `YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]][Z|±HH:MM|±HHMM|±HH]` to epoch ms;
 * NaN when malformed. No zone means UTC. Fractions beyond milliseconds are truncated. Written
 * as a character scanner because `Date.parse` accepts too much (and differs across engines)
 * and a regex is slower on this hot path.
 *
 * @example
 * ```ts
 * import { parseIsoTimestamp } from "./decode.ts";
 * parseIsoTimestamp("2025-12-15T11:00:00+01:00") === Date.UTC(2025, 11, 15, 10); // true
 * ```
 */
export function parseIsoTimestamp(s: string): number {
  const n = s.length;
  if (n < 16 || n > 40) return NaN;
  const year = digits(s, 0, 4);
  if (year < 0 || s.charCodeAt(4) !== 45) return NaN;
  const month = digits(s, 5, 2);
  if (month < 1 || month > 12 || s.charCodeAt(7) !== 45) return NaN;
  const day = digits(s, 8, 2);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const maxDay = month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1];
  if (day < 1 || day > maxDay) return NaN;
  const sep = s.charCodeAt(10);
  if (sep !== 84 /* T */ && sep !== 116 /* t */ && sep !== 32 /* space */) return NaN;
  const hour = digits(s, 11, 2);
  if (hour < 0 || hour > 23 || s.charCodeAt(13) !== 58) return NaN;
  const minute = digits(s, 14, 2);
  if (minute < 0 || minute > 59) return NaN;
  let i = 16;
  let second = 0;
  let ms = 0;
  if (i < n && s.charCodeAt(i) === 58) {
    second = digits(s, i + 1, 2);
    if (second < 0 || second > 59) return NaN;
    i += 3;
    if (i < n && (s.charCodeAt(i) === 46 || s.charCodeAt(i) === 44)) {
      i++;
      const start = i;
      let scale = 100;
      while (i < n) {
        const c = s.charCodeAt(i) - 48;
        if (!(c >= 0 && c <= 9)) break;
        ms += c * scale;
        scale /= 10;
        i++;
      }
      if (i === start) return NaN;
      ms = Math.floor(ms);
    }
  }
  let offsetMin = 0;
  if (i < n) {
    const z = s.charCodeAt(i);
    if (z === 90 /* Z */ || z === 122 /* z */) {
      i++;
    } else if (z === 43 /* + */ || z === 45 /* - */) {
      const oh = digits(s, i + 1, 2);
      if (oh < 0 || oh > 23) return NaN;
      i += 3;
      let om = 0;
      if (i < n) {
        if (s.charCodeAt(i) === 58) i++;
        om = digits(s, i, 2);
        if (om < 0 || om > 59) return NaN;
        i += 2;
      }
      offsetMin = (z === 45 ? -1 : 1) * (oh * 60 + om);
    } else return NaN;
  }
  if (i !== n) return NaN;
  const days = daysFromCivil(year, month, day);
  return (((days * 24 + hour) * 60 + minute - offsetMin) * 60 + second) * 1000 + ms;
}

/**
 * Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm): plain
 * arithmetic, valid for every year including 0..99, which `Date.UTC` would map to 1900+.
 */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
