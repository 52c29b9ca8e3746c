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
import type { SensorCatalogue, SensorTypeSpec } from "./catalogue.ts";
import { prepare, type Prepared, read, readExtras } from "./fields.ts";
import { builtinCatalogue } from "./catalogue_file.ts";
import type { DecodeResult, ExtraValue, PartitionHints, Reading } from "./reading.ts";
import { convert } from "./units.ts";
import { epochToMillis, parseIsoTimestamp } from "./timestamps.ts";

export type { DecodeResult, PartitionHints } from "./reading.ts";
export { epochToMillis, parseIsoTimestamp } from "./timestamps.ts";

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

/**
 * The ISO form of the ingest clock, remembered: a batch reads the clock every 256 records,
 * and a topic of future readings would otherwise format the same instant for each of them.
 */
let lastIso = { ms: NaN, iso: "" };
function isoTime(ms: number): string {
  if (lastIso.ms !== ms) lastIso = { ms, iso: new Date(ms).toISOString() };
  return lastIso.iso;
}

/**
 * The end of a `future_timestamp` detail after the seconds ahead, e.g. ` s ahead of the ingest
 * clock (2026-12-07T12:00:00.000Z; tolerance 300 s)`: the SQL decoder (sql/decode/fast.sql)
 * writes the same detail from it.
 */
export function futureDetailTail(nowMs: number, toleranceMs: number): string {
  return ` s ahead of the ingest clock (${isoTime(nowMs)}; tolerance ${toleranceMs / 1000} s)`;
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
      `timestamp ${showValue(rawTs)} is ${Math.round((timestamp - opts.nowMs) / 1000)}${
        futureDetailTail(opts.nowMs, opts.futureToleranceMs ?? DEFAULT_FUTURE_TOLERANCE_MS)
      }`,
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
