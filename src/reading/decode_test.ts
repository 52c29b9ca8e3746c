import assert from "node:assert/strict";
import {
  decodeReading,
  DEFAULT_MAX_BYTES,
  isSafeIdentifier,
  parseIsoTimestamp,
  PLAUSIBLE_RANGES,
} from "./decode.ts";
import type { DecodeResult } from "./reading.ts";
import { CATALOGUE_MAX_BYTES, HOSTILE_CASES } from "./hostile_cases.ts";

const BASE = {
  timestamp: "2025-12-15T10:00:00Z",
  device_id: "sensor_001",
  building: "A",
  floor: 2,
  type: "temperature",
  value: 22.5,
  unit: "C",
};
const T0 = Date.UTC(2025, 11, 15, 10, 0, 0);

function with_(patch: Record<string, unknown>): string {
  return JSON.stringify({ ...BASE, ...patch });
}
function without(field: string): string {
  const o: Record<string, unknown> = { ...BASE };
  delete o[field];
  return JSON.stringify(o);
}
function ok(r: DecodeResult) {
  if (!r.ok) {
    throw new assert.AssertionError({ message: `expected ok, got ${r.reason}: ${r.detail}` });
  }
  return r.reading;
}
function rejects(r: DecodeResult, reason: string): void {
  assert.equal(r.ok, false, `expected reject ${reason}`);
  if (!r.ok) {
    assert.equal(r.reason, reason, r.detail);
    assert.ok(r.detail.length > 0 && r.detail.length < 300, `detail too long: ${r.detail.length}`);
  }
}
const enc = new TextEncoder();

Deno.test("seed example decodes, from string and bytes alike", () => {
  const s = JSON.stringify(BASE);
  const expected = {
    timestamp: T0,
    deviceId: "sensor_001",
    building: "A",
    floor: 2,
    type: "temperature",
    value: 22.5,
    unit: "C",
  };
  assert.deepEqual(ok(decodeReading(s)), expected);
  assert.deepEqual(ok(decodeReading(enc.encode(s))), expected);
  assert.deepEqual(decodeReading(s).hints, { building: "A", type: "temperature" });
});

Deno.test("timestamps: ISO with Z, offsets, fractions, zoneless, epoch s and ms", () => {
  const cases: [unknown, number][] = [
    ["2025-12-15T11:00:00+01:00", T0],
    ["2025-12-15T04:30:00-05:30", T0],
    ["2025-12-15T10:00:00.250Z", T0 + 250],
    ["2025-12-15T10:00:00.123456Z", T0 + 123],
    ["2025-12-15T10:00:00", T0], // zoneless = UTC
    ["2025-12-15T10:00Z", T0],
    ["2025-12-15 10:00:00Z", T0],
    ["2025-12-15T12:00:00+0200", T0],
    [T0 / 1000, T0], // epoch seconds
    [T0 / 1000 + 0.5, T0 + 500],
    [T0, T0], // epoch millis
  ];
  for (const [ts, want] of cases) {
    assert.equal(ok(decodeReading(with_({ timestamp: ts }))).timestamp, want, String(ts));
  }
});

Deno.test("bad timestamps: year 1, year 9999, garbage, invalid dates, negative epoch", () => {
  for (
    const ts of [
      "0001-01-01T00:00:00Z",
      "9999-12-31T23:59:59Z",
      "1969-12-31T23:59:59Z",
      "2101-01-01T00:00:00Z",
      "yesterday",
      "2025-02-30T10:00:00Z",
      "2025-13-01T10:00:00Z",
      "2025-12-15T24:00:00Z",
      "2025-12-15T10:00:00+25:00",
      "2025-12-15T10:00:00Zjunk",
      "2025-12-15",
      "",
      -1,
      1e15,
    ]
  ) {
    rejects(decodeReading(with_({ timestamp: ts })), "bad_timestamp");
  }
});

Deno.test("a timestamp beyond the tolerance ahead of the ingest clock is future_timestamp", () => {
  const payload = JSON.stringify(BASE);
  // Without a clock there is no judgement (the function stays pure).
  assert.equal(ok(decodeReading(payload)).timestamp, T0);
  assert.equal(ok(decodeReading(payload, { nowMs: T0 - 300_000 })).timestamp, T0);
  rejects(decodeReading(payload, { nowMs: T0 - 300_001 }), "future_timestamp");
  rejects(decodeReading(payload, { nowMs: T0 - 2 * 86_400_000 }), "future_timestamp");
  assert.equal(
    ok(decodeReading(payload, { nowMs: T0 - 60_000, futureToleranceMs: 60_000 })).value,
    22.5,
  );
  rejects(decodeReading(payload, { nowMs: T0 - 1, futureToleranceMs: 0 }), "future_timestamp");
  // The past is never judged here: lateness is the dedup's business, not decoding's.
  assert.equal(ok(decodeReading(payload, { nowMs: T0 + 365 * 86_400_000 })).timestamp, T0);
});

Deno.test("timestamp overflowing to Infinity is bad_timestamp; object timestamp is bad_type", () => {
  const s = JSON.stringify(BASE).replace('"2025-12-15T10:00:00Z"', "1e999");
  rejects(decodeReading(s), "bad_timestamp");
  rejects(decodeReading(with_({ timestamp: { s: 1 } })), "bad_type:timestamp");
  rejects(decodeReading(with_({ timestamp: true })), "bad_type:timestamp");
});

Deno.test("units: °F, K, Wh converted; missing unit = canonical", () => {
  assert.equal(ok(decodeReading(with_({ value: 71.6, unit: "°F" }))).value, 22);
  assert.equal(ok(decodeReading(with_({ value: 71.6, unit: "F" }))).value, 22);
  assert.equal(ok(decodeReading(with_({ value: 295.65, unit: "K" }))).value, 22.5);
  assert.equal(ok(decodeReading(with_({ unit: "°C" }))).unit, "C");
  const e = ok(decodeReading(with_({ type: "energy", value: 1500, unit: "Wh" })));
  assert.deepEqual([e.value, e.unit], [1.5, "kWh"]);
  assert.equal(ok(decodeReading(without("unit"))).value, 22.5);
  assert.equal(ok(decodeReading(with_({ unit: null }))).unit, "C");
  const c = ok(decodeReading(with_({ type: "co2", value: 600, unit: undefined })));
  assert.deepEqual([c.value, c.unit], [600, "ppm"]);
  assert.equal(ok(decodeReading(with_({ type: "humidity", value: 45, unit: "%" }))).unit, "%");
});

Deno.test("bad units", () => {
  rejects(decodeReading(with_({ unit: "ppm" })), "bad_unit");
  rejects(decodeReading(with_({ type: "co2", value: 500, unit: "C" })), "bad_unit");
  rejects(decodeReading(with_({ unit: "c" })), "bad_unit");
  rejects(decodeReading(with_({ unit: "__proto__" })), "bad_unit");
  rejects(decodeReading(with_({ unit: 5 })), "bad_type:unit");
});

Deno.test("out_of_range per type, after normalisation", () => {
  rejects(decodeReading(with_({ value: 90 })), "out_of_range");
  rejects(decodeReading(with_({ value: 200, unit: "F" })), "out_of_range"); // 93.3 °C
  rejects(decodeReading(with_({ type: "humidity", value: 101, unit: "%" })), "out_of_range");
  rejects(decodeReading(with_({ type: "co2", value: 100, unit: "ppm" })), "out_of_range");
  rejects(decodeReading(with_({ type: "energy", value: -1, unit: "kWh" })), "out_of_range");
  rejects(decodeReading(with_({ type: "energy", value: 2e6, unit: "Wh" })), "out_of_range");
  const inf = JSON.stringify(BASE).replace('"value":22.5', '"value":1e999');
  rejects(decodeReading(inf), "out_of_range");
  assert.equal(ok(decodeReading(with_({ value: PLAUSIBLE_RANGES.temperature.max }))).value, 85);
});

Deno.test("NaN and Infinity as raw text are malformed JSON", () => {
  for (const v of ["NaN", "Infinity", "-Infinity"]) {
    rejects(decodeReading(JSON.stringify(BASE).replace("22.5", v)), "malformed_json");
  }
});

Deno.test("numbers as strings are bad_type (strict)", () => {
  rejects(decodeReading(with_({ value: "22.5" })), "bad_type:value");
  rejects(decodeReading(with_({ floor: "2" })), "bad_type:floor");
  rejects(decodeReading(with_({ value: true })), "bad_type:value");
  rejects(decodeReading(with_({ value: [22.5] })), "bad_type:value");
});

Deno.test("every required field missing or null is missing_field", () => {
  for (const f of ["timestamp", "device_id", "building", "floor", "type", "value"]) {
    rejects(decodeReading(without(f)), `missing_field:${f}`);
    rejects(decodeReading(with_({ [f]: null })), `missing_field:${f}`);
  }
});

Deno.test("extra fields are ignored; duplicate keys keep the last", () => {
  assert.equal(ok(decodeReading(with_({ extra: { deep: [1, 2] }, battery: 0.9 }))).value, 22.5);
  const dup = '{"timestamp":"2025-12-15T10:00:00Z","device_id":"d1","building":"A","floor":2,' +
    '"type":"temperature","value":1,"value":23.5}';
  assert.equal(ok(decodeReading(dup)).value, 23.5);
});

Deno.test("type: unknown, wrong type, missing", () => {
  const r = decodeReading(with_({ type: "pressure" }));
  rejects(r, "unknown_type");
  assert.deepEqual(r.hints, { building: "A", type: "pressure" });
  rejects(decodeReading(with_({ type: 3 })), "bad_type:type");
  rejects(decodeReading(with_({ type: "Temperature" })), "unknown_type");
});

Deno.test("floors: negative allowed, fractional and far out rejected", () => {
  assert.equal(ok(decodeReading(with_({ floor: -2 }))).floor, -2);
  assert.equal(ok(decodeReading(with_({ floor: 0 }))).floor, 0);
  rejects(decodeReading(with_({ floor: -11 })), "bad_floor");
  rejects(decodeReading(with_({ floor: 301 })), "bad_floor");
  rejects(decodeReading(with_({ floor: 2.5 })), "bad_floor");
});

Deno.test("hostile building values never become hints", () => {
  const hostile = [
    "../../etc",
    "A/B",
    "%2e%2e",
    "A\u0000B",
    "x".repeat(10_000),
    "A'; DROP TABLE silver; --",
    ".",
    "..",
    ".hidden",
    "",
    "A B",
    "A\\B",
    "Ä",
  ];
  for (const b of hostile) {
    const r = decodeReading(with_({ building: b }));
    rejects(r, "bad_identifier:building");
    assert.equal(r.hints.building, null, JSON.stringify(b).slice(0, 40));
    assert.equal(r.hints.type, "temperature");
    if (!r.ok) assert.ok(r.detail.length < 250);
  }
});

Deno.test("hostile type values give null type hint", () => {
  for (const t of ["../x", "a/b", "x".repeat(10_000), "t\u0000"]) {
    const r = decodeReading(with_({ type: t }));
    rejects(r, "unknown_type");
    assert.equal(r.hints.type, null);
  }
});

Deno.test("unsafe device ids are bad_identifier:device_id", () => {
  for (const d of ["../d", "a b", "", "d".repeat(65)]) {
    rejects(decodeReading(with_({ device_id: d })), "bad_identifier:device_id");
  }
  rejects(decodeReading(with_({ device_id: 7 })), "bad_type:device_id");
  rejects(decodeReading(with_({ building: 7 })), "bad_type:building");
  assert.equal(ok(decodeReading(with_({ device_id: "d".repeat(64) }))).deviceId.length, 64);
});

Deno.test("not an object: array, number, string, null", () => {
  for (const s of ["[1,2]", "42", '"hello"', "null", "true", JSON.stringify([BASE])]) {
    rejects(decodeReading(s), "not_an_object");
  }
});

Deno.test("malformed JSON: truncated, empty, trailing garbage, single quotes", () => {
  for (const s of ['{"timestamp":', "", "   ", '{"a":1} x', "{'a':1}", "\u0000"]) {
    const r = decodeReading(s);
    rejects(r, "malformed_json");
    assert.deepEqual(r.hints, { building: null, type: null });
  }
});

Deno.test("invalid UTF-8 bytes", () => {
  const good = enc.encode(JSON.stringify(BASE));
  const bad = new Uint8Array([...good.slice(0, 20), 0xff, 0xfe, ...good.slice(20)]);
  rejects(decodeReading(bad), "invalid_utf8");
  rejects(decodeReading(new Uint8Array([0xc3, 0x28])), "invalid_utf8"); // bad continuation
  rejects(decodeReading(new Uint8Array([0xed, 0xa0, 0x80])), "invalid_utf8"); // surrogate
  // valid multi-byte UTF-8 (°F) passes
  assert.equal(ok(decodeReading(enc.encode(with_({ value: 71.6, unit: "°F" })))).value, 22);
});

Deno.test("a 2 MB message is too_large, as bytes and as a string", () => {
  const big = with_({ padding: "x".repeat(2 * 1024 * 1024) });
  rejects(decodeReading(big), "too_large");
  rejects(decodeReading(enc.encode(big)), "too_large");
  // multi-byte chars: under maxBytes in UTF-16 units but over it in UTF-8 bytes
  const wide = with_({ padding: "°".repeat(DEFAULT_MAX_BYTES / 2) });
  rejects(decodeReading(wide), "too_large");
  // the limit is configurable
  assert.equal(decodeReading(big, { maxBytes: 4 * 1024 * 1024 }).ok, true);
  rejects(decodeReading(JSON.stringify(BASE), { maxBytes: 10 }), "too_large");
});

Deno.test("100k-deep nesting does not crash", () => {
  const deep = "[".repeat(100_000) + "]".repeat(100_000);
  rejects(decodeReading(deep), "too_large");
  const r = decodeReading(deep, { maxBytes: 1 << 20 });
  assert.equal(r.ok, false); // not_an_object, or malformed_json if the engine bails out
  const deepObj = with_({ extra: 0 }).replace(
    '"extra":0',
    '"extra":' + "[".repeat(100_000) + "]".repeat(100_000),
  );
  const r2 = decodeReading(deepObj, { maxBytes: 1 << 20 });
  assert.ok(r2.ok || r2.reason === "malformed_json");
});

Deno.test("detail truncates offending values to ~80 chars", () => {
  const r = decodeReading(with_({ value: "v".repeat(5000) }));
  rejects(r, "bad_type:value");
  if (!r.ok) assert.ok(r.detail.length < 200, r.detail);
});

Deno.test("isSafeIdentifier", () => {
  for (const s of ["A", "B2", "A-F2-temperature-01", "sensor_001", "a.b", "0"]) {
    assert.equal(isSafeIdentifier(s), true, s);
  }
  for (const s of [".", "..", "-a", "_a", "a/b", "a\\b", "a%2e", "", "é", 5, null]) {
    assert.equal(isSafeIdentifier(s), false, String(s));
  }
});

Deno.test("parseIsoTimestamp matches Date.parse on well-formed input", () => {
  for (
    const s of [
      "2025-12-15T10:00:00Z",
      "2024-02-29T23:59:59.999+01:00",
      "2000-01-01T00:00:00-12:00",
      "2100-12-31T23:59:59Z",
      "1970-01-01T00:00:00Z",
    ]
  ) {
    assert.equal(parseIsoTimestamp(s), Date.parse(s), s);
  }
  assert.ok(Number.isNaN(parseIsoTimestamp("2023-02-29T00:00:00Z")));
});

for (const c of HOSTILE_CASES) {
  Deno.test(`hostile: ${c.name} → ${c.expect}`, () => {
    const r = decodeReading(c.payload, { maxBytes: CATALOGUE_MAX_BYTES });
    assert.equal(r.ok ? "valid" : r.reason, c.expect, r.ok ? "" : r.detail);
    if (c.hints) assert.deepEqual(r.hints, c.hints);
    if (!r.ok) assert.ok(r.detail.length < 300, r.detail);
  });
}

Deno.test("hostile catalogue: every valid case is its own reading (none would be deduplicated)", () => {
  const seen = new Map<string, string>();
  for (const c of HOSTILE_CASES) {
    const r = decodeReading(c.payload, { maxBytes: CATALOGUE_MAX_BYTES });
    if (!r.ok) continue;
    const key = `${r.reading.deviceId}|${r.reading.type}|${r.reading.timestamp}`;
    assert.equal(seen.get(key), undefined, `${c.name} repeats ${seen.get(key)}`);
    seen.set(key, c.name);
  }
});
