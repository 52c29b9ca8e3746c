/**
 * The one catalogue of hostile and edge-case payloads, with the outcome the pipeline must give
 * each: `valid` (silver) or the quarantine reason.
 *
 * Two suites iterate it: `decode_test.ts` runs each case through `decodeReading` as a unit
 * test, and `tests/hostile_input_test.ts` pushes every case through the real broker and the
 * `consume` task, and through the `ingest-files` task, checking where each lands and that
 * nothing is written outside the lakehouse. Outcomes hold under the pipeline's default payload
 * limit ({@link CATALOGUE_MAX_BYTES}), which is why the unit suite decodes with that limit.
 *
 * @module
 */

/** One case: a payload and its expected outcome. */
export interface HostileCase {
  name: string;
  payload: string | Uint8Array;
  /** "valid" (silver) or the quarantine reason. */
  expect: "valid" | string;
  /** Expected partition hints, when the case is about them. */
  hints?: { building: string | null; type: string | null };
  /** Silver fields the end-to-end suite checks for a valid case. */
  silver?: { value?: number; floor?: number };
  /** Kafka message key (default: none). */
  key?: string | Uint8Array;
  /**
   * Kafka only: the file source reads a file as records (an array's elements, NDJSON lines),
   * so this payload is not one record there.
   */
  kafkaOnly?: boolean;
}

/** The payload limit the outcomes assume: the pipeline's default `--max-payload-bytes`. */
export const CATALOGUE_MAX_BYTES = 1024 * 1024;

/** The brief's example reading, byte for byte. */
const SEED = JSON.stringify({
  timestamp: "2025-12-15T10:00:00Z",
  device_id: "sensor_001",
  building: "A",
  floor: 2,
  type: "temperature",
  value: 22.5,
  unit: "C",
});

const enc = new TextEncoder();
/** Bytes from text and raw byte runs, for payloads that are not valid UTF-8. */
const bytes = (...parts: (string | number[])[]): Uint8Array => {
  const chunks = parts.map((p) => typeof p === "string" ? enc.encode(p) : new Uint8Array(p));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let i = 0;
  for (const c of chunks) {
    out.set(c, i);
    i += c.length;
  }
  return out;
};

let nextDevice = 0;
/**
 * A reading as JSON text. Every call gets its own device, so no two valid cases are
 * duplicates of each other when they travel through the pipeline together. `fields` override
 * or add keys (undefined removes one).
 */
function reading(fields: Record<string, unknown> = {}): string {
  const base: Record<string, unknown> = {
    timestamp: "2025-12-15T10:00:00Z",
    device_id: `hx_${String(nextDevice++).padStart(3, "0")}`,
    building: "A",
    floor: 2,
    type: "temperature",
    value: 21.5,
    unit: "C",
  };
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return JSON.stringify(base);
}
/** A reading with raw JSON text spliced in before the closing brace. */
const readingWith = (raw: string, fields: Record<string, unknown> = {}): string =>
  reading(fields).slice(0, -1) + "," + raw + "}";
/** A reading whose `field` is the raw JSON text `raw` (NaN, 1e999: not JSON.stringify-able). */
const readingRaw = (field: string, raw: string): string =>
  reading({ [field]: 0 }).replace(`"${field}":0`, `"${field}":${raw}`);
const nested = (depth: number): string => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
const badBuilding = (building: string): HostileCase => ({
  name: `building ${JSON.stringify(building).slice(0, 40)}`,
  payload: reading({ building }),
  expect: "bad_identifier:building",
  hints: { building: null, type: "temperature" },
});

/** The catalogue: every reject reason appears, and each valid case is its own reading. */
export const HOSTILE_CASES: readonly HostileCase[] = [
  // Valid readings, in every accepted shape.
  { name: "the brief's example reading", payload: SEED, expect: "valid" },
  { name: "a reading as bytes", payload: enc.encode(reading()), expect: "valid" },
  {
    name: "ISO with +01:00 offset",
    payload: reading({ timestamp: "2025-12-15T11:00:00+01:00" }),
    expect: "valid",
  },
  {
    name: "ISO with -05:30 offset",
    payload: reading({ timestamp: "2025-12-15T04:30:00-05:30" }),
    expect: "valid",
  },
  {
    name: "zoneless ISO (UTC)",
    payload: reading({ timestamp: "2025-12-15T10:00:00" }),
    expect: "valid",
  },
  { name: "epoch seconds", payload: reading({ timestamp: 1765792800 }), expect: "valid" },
  { name: "epoch milliseconds", payload: reading({ timestamp: 1765792800000 }), expect: "valid" },
  {
    name: "°F is converted (71.6 °F → 22 °C)",
    payload: reading({ value: 71.6, unit: "°F" }),
    expect: "valid",
    silver: { value: 22 },
  },
  { name: "K converted", payload: reading({ value: 295.65, unit: "K" }), expect: "valid" },
  {
    name: "Wh converted",
    payload: reading({ type: "energy", value: 5800, unit: "Wh" }),
    expect: "valid",
  },
  { name: "missing unit = canonical", payload: reading({ unit: undefined }), expect: "valid" },
  {
    name: "extra fields are ignored",
    payload: readingWith('"firmware":"1.2.3","battery":0.93,"tags":["x","y"],"meta":{"k":null}'),
    expect: "valid",
  },
  {
    name: "duplicate keys: the last one wins (valid)",
    payload: readingRaw("value", '999,"value":21.5'),
    expect: "valid",
    silver: { value: 21.5 },
  },
  {
    name: "duplicate keys: the last one wins (out of range)",
    payload: readingRaw("value", '21.5,"value":999'),
    expect: "out_of_range",
  },
  {
    name: "a negative floor (basement) is valid",
    payload: reading({ floor: -2 }),
    expect: "valid",
    silver: { floor: -2 },
  },
  {
    name: "deeply nested JSON (100k levels) in an extra field",
    payload: readingWith(`"deep":${nested(100_000)}`),
    expect: "valid",
  },
  {
    name: "SQL in an extra field is just data",
    payload: readingWith(
      `"comment":"'); DELETE FROM bronze; SELECT * FROM read_text('/etc/passwd'); --"`,
    ),
    expect: "valid",
  },
  {
    name: "emoji in an extra field is kept",
    payload: readingWith('"label":"🌡️ lobby 🔥 ok ✓"'),
    expect: "valid",
  },
  {
    name: "RTL override and zero-width chars in an extra field",
    payload: readingWith('"name":"\u202egnp.exe\u200b\u2066x\u2069"'),
    expect: "valid",
  },
  {
    name: "a byte order mark before the JSON (ignored, but kept in bronze)",
    payload: "\ufeff" + reading(),
    expect: "valid",
  },
  {
    name: "__proto__ key (prototype pollution attempt)",
    payload: readingWith('"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}'),
    expect: "valid",
  },
  {
    name: "a message key that is not UTF-8",
    payload: reading(),
    key: bytes("dev", [0xff, 0x00, 0xfe]),
    expect: "valid",
    kafkaOnly: true,
  },
  {
    name: "control characters and escapes in an extra field",
    payload: readingWith('"ctl":"\\u0001\\u001b[31m\\r\\n\\t\\\\\\"end"'),
    expect: "valid",
  },
  {
    name: "lone UTF-16 surrogate escape in an extra field",
    payload: readingWith('"s":"\\ud800"'),
    expect: "valid",
  },

  // Timestamps.
  {
    name: "timestamp in year 1",
    payload: reading({ timestamp: "0001-01-01T00:00:00Z" }),
    expect: "bad_timestamp",
  },
  {
    name: "timestamp in year 9999",
    payload: reading({ timestamp: "9999-12-31T23:59:59Z" }),
    expect: "bad_timestamp",
  },
  {
    name: "timestamp garbage",
    payload: reading({ timestamp: "yesterday" }),
    expect: "bad_timestamp",
  },
  {
    name: "Feb 30",
    payload: reading({ timestamp: "2025-02-30T10:00:00Z" }),
    expect: "bad_timestamp",
  },
  { name: "negative epoch", payload: reading({ timestamp: -1 }), expect: "bad_timestamp" },
  {
    name: "timestamp 1e999 (Infinity)",
    payload: readingRaw("timestamp", "1e999"),
    expect: "bad_timestamp",
  },
  {
    name: "timestamp as an object",
    payload: reading({ timestamp: { iso: "2025-12-15T10:00:00Z" } }),
    expect: "bad_type:timestamp",
  },

  // Values, types and units.
  { name: "NaN literal as value", payload: readingRaw("value", "NaN"), expect: "malformed_json" },
  {
    name: "Infinity literal as value",
    payload: readingRaw("value", "Infinity"),
    expect: "malformed_json",
  },
  {
    name: "a value overflowing to Infinity (1e999)",
    payload: readingRaw("value", "1e999"),
    expect: "out_of_range",
  },
  {
    name: "a value overflowing to -Infinity (-1e999)",
    payload: readingRaw("value", "-1e999"),
    expect: "out_of_range",
  },
  { name: "value as a string", payload: reading({ value: "22.5" }), expect: "bad_type:value" },
  { name: "value true", payload: reading({ value: true }), expect: "bad_type:value" },
  { name: "floor as a string", payload: reading({ floor: "2" }), expect: "bad_type:floor" },
  { name: "value null", payload: reading({ value: null }), expect: "missing_field:value" },
  {
    name: "building null",
    payload: reading({ building: null }),
    expect: "missing_field:building",
  },
  {
    name: "device_id null",
    payload: reading({ device_id: null }),
    expect: "missing_field:device_id",
  },
  {
    name: "missing timestamp",
    payload: reading({ timestamp: undefined }),
    expect: "missing_field:timestamp",
  },
  {
    name: "missing device_id",
    payload: reading({ device_id: undefined }),
    expect: "missing_field:device_id",
  },
  { name: "missing type", payload: reading({ type: undefined }), expect: "missing_field:type" },
  { name: "missing floor", payload: reading({ floor: undefined }), expect: "missing_field:floor" },
  { name: "a fractional floor", payload: reading({ floor: 2.5 }), expect: "bad_floor" },
  { name: "floor 1000", payload: reading({ floor: 1000 }), expect: "bad_floor" },
  {
    name: "a floor below the lowest basement",
    payload: reading({ floor: -11 }),
    expect: "bad_floor",
  },
  { name: "a floor of 1e308", payload: reading({ floor: 1e308 }), expect: "bad_floor" },
  {
    name: "unknown type",
    payload: reading({ type: "pressure" }),
    expect: "unknown_type",
    hints: { building: "A", type: "pressure" },
  },
  {
    name: "type in the wrong case",
    payload: reading({ type: "Temperature" }),
    expect: "unknown_type",
  },
  { name: "type as number", payload: reading({ type: 4 }), expect: "bad_type:type" },
  { name: "unit of another type", payload: reading({ unit: "ppm" }), expect: "bad_unit" },
  { name: "an unknown unit", payload: reading({ unit: "furlong" }), expect: "bad_unit" },
  { name: "temperature 90 °C", payload: reading({ value: 90 }), expect: "out_of_range" },
  {
    name: "humidity 120 %",
    payload: reading({ type: "humidity", value: 120, unit: "%" }),
    expect: "out_of_range",
  },
  {
    name: "negative energy",
    payload: reading({ type: "energy", value: -3, unit: "kWh" }),
    expect: "out_of_range",
  },

  // Identifiers that would become paths, SQL or confusable names.
  badBuilding("../../etc"),
  badBuilding("A/B"),
  badBuilding("%2e%2e"),
  badBuilding(".."),
  badBuilding("."),
  badBuilding("..\\..\\windows"),
  badBuilding("A\u0000B"),
  badBuilding("B".repeat(10_000)),
  badBuilding("A'; DROP TABLE silver;--"),
  badBuilding("A' OR '1'='1"),
  badBuilding("🏢"),
  {
    name: "type ../x",
    payload: reading({ type: "../x" }),
    expect: "unknown_type",
    hints: { building: "A", type: null },
  },
  { name: "type ../../etc", payload: reading({ type: "../../etc" }), expect: "unknown_type" },
  { name: "type A/B", payload: reading({ type: "A/B" }), expect: "unknown_type" },
  { name: "type %2e%2e", payload: reading({ type: "%2e%2e" }), expect: "unknown_type" },
  {
    name: "device_id with slash",
    payload: reading({ device_id: "a/b" }),
    expect: "bad_identifier:device_id",
  },
  {
    name: "device_id with spaces",
    payload: reading({ device_id: "dev 001" }),
    expect: "bad_identifier:device_id",
  },
  {
    name: "device_id of 10k characters",
    payload: reading({ device_id: "d".repeat(10_000) }),
    expect: "bad_identifier:device_id",
  },
  {
    name: "SQL in device_id: '; DROP TABLE silver; --",
    payload: reading({ device_id: "'; DROP TABLE silver; --" }),
    expect: "bad_identifier:device_id",
  },
  {
    name: "RTL override in device_id",
    payload: reading({ device_id: "\u202edev_001" }),
    expect: "bad_identifier:device_id",
  },
  { name: "device_id as number", payload: reading({ device_id: 7 }), expect: "bad_type:device_id" },

  // Not a reading at all.
  { name: "a JSON array", payload: `[${SEED}]`, expect: "not_an_object", kafkaOnly: true },
  { name: "the JSON literal null", payload: "null", expect: "not_an_object" },
  { name: "a bare JSON string", payload: '"hello"', expect: "not_an_object" },
  {
    // In a file, an unterminated last line that does not parse is a line still being written:
    // it waits for the rest, so this case is Kafka's.
    name: "truncated JSON",
    payload: SEED.slice(0, 40),
    expect: "malformed_json",
    hints: { building: null, type: null },
    kafkaOnly: true,
  },
  { name: "an empty payload", payload: "", expect: "malformed_json", kafkaOnly: true },
  {
    name: "a raw NUL byte inside a string",
    payload: bytes(reading().slice(0, -1) + ',"note":"a', [0x00], 'b"}'),
    expect: "malformed_json",
  },
  {
    name: "invalid UTF-8: 0xFF 0xFE inside a string",
    payload: bytes('{"device_id":"', [0xff, 0xfe], '","type":"temperature"}'),
    expect: "invalid_utf8",
  },
  {
    name: "invalid UTF-8: truncated multi-byte sequence",
    payload: bytes(reading().slice(0, -1) + ',"note":"', [0xc3], '"}'),
    expect: "invalid_utf8",
  },
  {
    name: "invalid UTF-8: overlong encoding of '/'",
    payload: bytes('{"building":"', [0xc0, 0xaf], '"}'),
    expect: "invalid_utf8",
  },
  {
    name: "invalid UTF-8: an encoded UTF-16 surrogate",
    payload: bytes('{"x":"', [0xed, 0xa0, 0x80], '"}'),
    expect: "invalid_utf8",
  },
  {
    name: "a 2 MB message (over the 1 MiB payload limit)",
    payload: readingWith(`"pad":"${"x".repeat(2 * 1024 * 1024)}"`),
    expect: "too_large",
  },
  {
    name: "deeply nested arrays (100k levels) as the whole payload",
    payload: "[".repeat(100_000) + "]".repeat(100_000),
    expect: "not_an_object",
    kafkaOnly: true,
  },
];

/**
 * The sensor catalogue the catalogue cases below decode with: three of the brief's types, a
 * PM2.5 type with its own unit spellings, vendor field aliases (epoch-ms `ts`, `deviceId`, a
 * dotted path), and one extra column of each type.
 */
export const CASES_SENSORS_YAML = `types:
  temperature:
    unit: C
    units: {"°F": {scale: 5/9, offset: -160/9}}
    range: [-40, 85]
  humidity: {unit: "%", range: [0, 100]}
  co2: {unit: ppm, range: [250, 10000]}
  pm25:
    unit: ug/m3
    units: {"µg/m³": {}, "mg/m3": {scale: 1000}}
    range: [0, 1000]
fields:
  timestamp: [timestamp, ts]
  device_id: [device_id, deviceId, meta.device]
columns:
  battery: double
  rssi: {type: integer, from: [rssi, radio.rssi]}
  firmware: string
  charging: boolean
`;

/** A case decoded under {@link CASES_SENSORS_YAML}: one outcome per reading it carries. */
export interface SensorCatalogueCase {
  name: string;
  payload: string;
  /** Per reading, in payload order: "valid" or the quarantine reason. */
  expect: readonly string[];
  /** Per reading: the silver value and type of a valid one (null for a rejected one). */
  silver?: readonly ({ type: string; value: number } | null)[];
  /** The extras every valid reading of the payload carries. */
  extras?: Record<string, number | string | boolean | null> | null;
}

let nextVendor = 0;
/** A vendor-shaped message: epoch-ms `ts`, `deviceId`, own device per call. */
function vendor(fields: Record<string, unknown>): string {
  return JSON.stringify({
    ts: 1765792800000,
    deviceId: `vx_${String(nextVendor++).padStart(3, "0")}`,
    building: "B",
    floor: 1,
    ...fields,
  });
}

/** Catalogue cases: aliases, wide payloads, units, extra columns, a type the brief lacks. */
export const SENSOR_CATALOGUE_CASES: readonly SensorCatalogueCase[] = [
  {
    name: "vendor aliases: epoch-ms ts and deviceId",
    payload: vendor({ type: "temperature", value: 21 }),
    expect: ["valid"],
    silver: [{ type: "temperature", value: 21 }],
    extras: null,
  },
  {
    name: "dotted path: meta.device",
    payload: JSON.stringify({
      ts: 1765792801000,
      meta: { device: "vx_meta" },
      building: "B",
      floor: 1,
      type: "co2",
      value: 600,
    }),
    expect: ["valid"],
    silver: [{ type: "co2", value: 600 }],
  },
  {
    name: "first alias present wins (device_id before deviceId)",
    payload: vendor({ device_id: "vx_first", type: "humidity", value: 40 }),
    expect: ["valid"],
  },
  {
    name: "pm25, a type beyond the brief's, in a converted spelling",
    payload: vendor({ type: "pm25", value: 0.012, unit: "mg/m3" }),
    expect: ["valid"],
    silver: [{ type: "pm25", value: 12 }],
  },
  {
    name: "pm25 out of its range",
    payload: vendor({ type: "pm25", value: 5000 }),
    expect: ["out_of_range"],
  },
  {
    name: "energy is not in this catalogue",
    payload: vendor({ type: "energy", value: 1 }),
    expect: ["unknown_type"],
  },
  {
    name: "wide payload: three readings",
    payload: vendor({ temperature: 22.5, humidity: 45, co2: 650 }),
    expect: ["valid", "valid", "valid"],
    silver: [
      { type: "temperature", value: 22.5 },
      { type: "humidity", value: 45 },
      { type: "co2", value: 650 },
    ],
  },
  {
    name: "wide payload with one bad value: the others are kept",
    payload: vendor({ temperature: 22.5, humidity: 145, co2: "650" }),
    expect: ["valid", "out_of_range", "bad_type:value"],
    silver: [{ type: "temperature", value: 22.5 }, null, null],
  },
  {
    name: "wide payload honours <type>_unit",
    payload: vendor({ temperature: 71.6, temperature_unit: "°F", pm25: 7 }),
    expect: ["valid", "valid"],
    silver: [{ type: "temperature", value: 22 }, { type: "pm25", value: 7 }],
  },
  {
    name: "wide payload with a bad <type>_unit",
    payload: vendor({ temperature: 20, temperature_unit: "kWh", co2: 700 }),
    expect: ["bad_unit", "valid"],
  },
  {
    name: "wide payload missing a shared field: every reading rejected",
    payload: JSON.stringify({ ts: 1765792800000, building: "B", floor: 1, co2: 500, pm25: 3 }),
    expect: ["missing_field:device_id", "missing_field:device_id"],
  },
  {
    name: "no type and no type-named key is still missing_field:type",
    payload: vendor({ value: 1, pressure: 1013 }),
    expect: ["missing_field:type"],
  },
  {
    name: "extra columns, typed",
    payload: vendor({
      type: "humidity",
      value: 41,
      battery: 0.87,
      radio: { rssi: -71 },
      firmware: "2.1.0",
      charging: false,
    }),
    expect: ["valid"],
    extras: { battery: 0.87, rssi: -71, firmware: "2.1.0", charging: false },
  },
  {
    name: "extra columns of the wrong type become null, the reading is kept",
    payload: vendor({
      type: "humidity",
      value: 42,
      battery: "87%",
      rssi: -71.5,
      firmware: 2,
      charging: "yes",
    }),
    expect: ["valid"],
    extras: { battery: null, rssi: null, firmware: null, charging: null },
  },
  {
    name: "wide payload: extras shared by its readings",
    payload: vendor({ co2: 800, pm25: 9, battery: 0.5 }),
    expect: ["valid", "valid"],
    extras: { battery: 0.5 },
  },
  {
    name: "a hostile alias target (constructor) is not read from the prototype",
    payload: vendor({ type: "co2", value: 900, constructor: { prototype: 1 } }),
    expect: ["valid"],
  },
];
