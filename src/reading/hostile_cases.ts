/**
 * A catalogue of hostile and edge-case payloads with the outcome decodeReading must give.
 *
 * Shared on purpose: decode_test.ts runs each as its own test, and end-to-end suites (issue 8)
 * can push the same payloads through Kafka and files and check each lands in silver or in
 * quarantine with this reason — and that nothing is written outside the lakehouse.
 *
 * @module
 */

/** One case: a payload and its expected outcome (`valid` or the reject reason). */
export interface HostileCase {
  name: string;
  payload: string | Uint8Array;
  expect: "valid" | string;
  /** Expected partition hints, when the case is about them. */
  hints?: { building: string | null; type: string | null };
}

const BASE: Record<string, unknown> = {
  timestamp: "2025-12-15T10:00:00Z",
  device_id: "sensor_001",
  building: "A",
  floor: 2,
  type: "temperature",
  value: 22.5,
  unit: "C",
};
const json = (patch: Record<string, unknown>) => JSON.stringify({ ...BASE, ...patch });
const without = (f: string) => {
  const o = { ...BASE };
  delete o[f];
  return JSON.stringify(o);
};
const seed = JSON.stringify(BASE);
const bytes = (s: string) => new TextEncoder().encode(s);

/** The catalogue (≥ 40 cases; every reason code appears). */
export const HOSTILE_CASES: readonly HostileCase[] = [
  { name: "seed example", payload: seed, expect: "valid" },
  { name: "seed example as bytes", payload: bytes(seed), expect: "valid" },
  {
    name: "ISO with +01:00 offset",
    payload: json({ timestamp: "2025-12-15T11:00:00+01:00" }),
    expect: "valid",
  },
  {
    name: "ISO with -05:30 offset",
    payload: json({ timestamp: "2025-12-15T04:30:00-05:30" }),
    expect: "valid",
  },
  {
    name: "zoneless ISO (UTC)",
    payload: json({ timestamp: "2025-12-15T10:00:00" }),
    expect: "valid",
  },
  { name: "epoch seconds", payload: json({ timestamp: 1765792800 }), expect: "valid" },
  { name: "epoch milliseconds", payload: json({ timestamp: 1765792800000 }), expect: "valid" },
  { name: "°F converted", payload: json({ value: 72.5, unit: "°F" }), expect: "valid" },
  { name: "K converted", payload: json({ value: 295.65, unit: "K" }), expect: "valid" },
  {
    name: "Wh converted",
    payload: json({ type: "energy", value: 5800, unit: "Wh" }),
    expect: "valid",
  },
  { name: "missing unit = canonical", payload: without("unit"), expect: "valid" },
  {
    name: "extra fields ignored",
    payload: json({ battery: 0.93, meta: { fw: "1.2" } }),
    expect: "valid",
  },
  {
    name: "duplicate keys: last wins",
    payload: seed.replace('"value":22.5', '"value":"x","value":22.5'),
    expect: "valid",
  },
  { name: "negative floor (basement)", payload: json({ floor: -2 }), expect: "valid" },
  { name: "year 1", payload: json({ timestamp: "0001-01-01T00:00:00Z" }), expect: "bad_timestamp" },
  {
    name: "year 9999",
    payload: json({ timestamp: "9999-12-31T23:59:59Z" }),
    expect: "bad_timestamp",
  },
  { name: "timestamp garbage", payload: json({ timestamp: "yesterday" }), expect: "bad_timestamp" },
  { name: "Feb 30", payload: json({ timestamp: "2025-02-30T10:00:00Z" }), expect: "bad_timestamp" },
  { name: "negative epoch", payload: json({ timestamp: -1 }), expect: "bad_timestamp" },
  {
    name: "timestamp 1e999 (Infinity)",
    payload: seed.replace('"2025-12-15T10:00:00Z"', "1e999"),
    expect: "bad_timestamp",
  },
  {
    name: "timestamp as object",
    payload: json({ timestamp: { iso: "x" } }),
    expect: "bad_type:timestamp",
  },
  { name: "raw NaN", payload: seed.replace("22.5", "NaN"), expect: "malformed_json" },
  { name: "raw Infinity", payload: seed.replace("22.5", "Infinity"), expect: "malformed_json" },
  {
    name: "value 1e999 (Infinity)",
    payload: seed.replace("22.5", "1e999"),
    expect: "out_of_range",
  },
  { name: "number as string", payload: json({ value: "22.5" }), expect: "bad_type:value" },
  { name: "floor as string", payload: json({ floor: "2" }), expect: "bad_type:floor" },
  { name: "value null", payload: json({ value: null }), expect: "missing_field:value" },
  { name: "building null", payload: json({ building: null }), expect: "missing_field:building" },
  { name: "missing timestamp", payload: without("timestamp"), expect: "missing_field:timestamp" },
  { name: "missing device_id", payload: without("device_id"), expect: "missing_field:device_id" },
  { name: "missing type", payload: without("type"), expect: "missing_field:type" },
  { name: "missing floor", payload: without("floor"), expect: "missing_field:floor" },
  { name: "fractional floor", payload: json({ floor: 2.5 }), expect: "bad_floor" },
  { name: "floor 1000", payload: json({ floor: 1000 }), expect: "bad_floor" },
  {
    name: "unknown type",
    payload: json({ type: "pressure" }),
    expect: "unknown_type",
    hints: { building: "A", type: "pressure" },
  },
  { name: "type as number", payload: json({ type: 4 }), expect: "bad_type:type" },
  { name: "unit of another type", payload: json({ unit: "ppm" }), expect: "bad_unit" },
  { name: "temperature 90 °C", payload: json({ value: 90 }), expect: "out_of_range" },
  {
    name: "humidity 120 %",
    payload: json({ type: "humidity", value: 120, unit: "%" }),
    expect: "out_of_range",
  },
  {
    name: "negative energy",
    payload: json({ type: "energy", value: -3, unit: "kWh" }),
    expect: "out_of_range",
  },
  {
    name: "building ../../etc",
    payload: json({ building: "../../etc" }),
    expect: "bad_identifier:building",
    hints: { building: null, type: "temperature" },
  },
  {
    name: "building A/B",
    payload: json({ building: "A/B" }),
    expect: "bad_identifier:building",
    hints: { building: null, type: "temperature" },
  },
  {
    name: "building %2e%2e",
    payload: json({ building: "%2e%2e" }),
    expect: "bad_identifier:building",
    hints: { building: null, type: "temperature" },
  },
  {
    name: "building with NUL",
    payload: json({ building: "A\u0000" }),
    expect: "bad_identifier:building",
    hints: { building: null, type: "temperature" },
  },
  {
    name: "building of 10k chars",
    payload: json({ building: "B".repeat(10_000) }),
    expect: "bad_identifier:building",
    hints: { building: null, type: "temperature" },
  },
  {
    name: "SQL-looking building",
    payload: json({ building: "A'; DROP TABLE silver;--" }),
    expect: "bad_identifier:building",
    hints: { building: null, type: "temperature" },
  },
  {
    name: "building '..'",
    payload: json({ building: ".." }),
    expect: "bad_identifier:building",
    hints: { building: null, type: "temperature" },
  },
  {
    name: "type ../x",
    payload: json({ type: "../x" }),
    expect: "unknown_type",
    hints: { building: "A", type: null },
  },
  {
    name: "device_id with slash",
    payload: json({ device_id: "a/b" }),
    expect: "bad_identifier:device_id",
  },
  { name: "device_id as number", payload: json({ device_id: 7 }), expect: "bad_type:device_id" },
  { name: "JSON array", payload: `[${seed}]`, expect: "not_an_object" },
  { name: "JSON null", payload: "null", expect: "not_an_object" },
  {
    name: "truncated JSON",
    payload: seed.slice(0, 40),
    expect: "malformed_json",
    hints: { building: null, type: null },
  },
  { name: "empty payload", payload: "", expect: "malformed_json" },
  {
    name: "invalid UTF-8",
    payload: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    expect: "invalid_utf8",
  },
  {
    name: "UTF-16 surrogate bytes",
    payload: new Uint8Array([0xed, 0xa0, 0x80]),
    expect: "invalid_utf8",
  },
  {
    name: "2 MB message",
    payload: json({ pad: "x".repeat(2 * 1024 * 1024) }),
    expect: "too_large",
  },
  {
    name: "100k-deep nesting",
    payload: "[".repeat(100_000) + "]".repeat(100_000),
    expect: "too_large",
  },
];
