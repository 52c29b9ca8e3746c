/**
 * Payload generators for the SQL-decoder equivalence test and the decode benchmark: random
 * payloads built from hostile pieces (every field's value drawn from a pool of edge cases,
 * aliases, duplicate and escaped keys, whitespace, text mutations), and simulator-shaped
 * payloads (the producer's encoding, its timestamp variants, unit conversions and faults).
 * Seeded, so a failure reproduces.
 *
 * @module
 */
import type { SensorCatalogue } from "../reading/catalogue.ts";

/** mulberry32: small, seeded, good enough for test data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

const ISO = [
  "2025-12-15T10:00:00Z",
  "2025-12-15T10:00:00",
  "2025-12-15 10:00",
  "2025-12-15t10:00:00z",
  "2025-12-15T10:00:00.1Z",
  "2025-12-15T10:00:00,123456Z",
  "2025-12-15T10:00:00.9999999Z",
  "2025-12-15T11:00:00+01:00",
  "2025-12-15T11:00:00+0100",
  "2025-12-15T11:00:00+01",
  "2025-12-15T09:30:00-00:30",
  "2024-02-29T00:00:00Z",
  "2025-02-29T00:00:00Z",
  "2025-13-01T00:00:00Z",
  "2025-12-15T24:00:00Z",
  "2025-12-15T10:60:00Z",
  "2025-12-15T10:00:60Z",
  "2025-12-15T10:00:00+24:00",
  "2025-12-15T10:00:00+01:",
  "2025-12-15T10:00:00.Z",
  "1970-01-01T00:00:00Z",
  "1969-12-31T23:59:59Z",
  "2100-12-31T23:59:59.999Z",
  "2101-01-01T00:00:00Z",
  "0099-01-01T00:00:00Z",
  "2026-12-07T12:04:59Z",
  "2026-12-07T12:05:01Z",
  "2025-12-15",
  "2025-12-15T10:00:00ZZ",
  "２０２５-12-15T10:00:00Z",
  " 2025-12-15T10:00:00Z",
];
const EPOCHS = [
  1765792800,
  1765792800.1,
  1765792800.0005,
  1765792800.0015,
  1765792800123,
  1765792800123.9,
  0,
  -1,
  99999999999,
  100000000000,
  4133980799999,
  4133980800000,
  1e308,
  -0,
  1796558699,
  1796558701,
  1796558400000,
  1796558700000.5,
];
const NUMBERS = [
  0,
  -0,
  1,
  2.5,
  22.4,
  -40,
  85,
  85.0000001,
  -40.0000001,
  1000,
  10000,
  250,
  249.99,
  1e-7,
  0.1 + 0.2,
  71.6,
  32,
  1e21,
  123456789.123456,
  5e-324,
  -273.15,
  300,
  -10,
  301,
  -11,
  2.0,
  9007199254740993,
];
const RAW_NUMBERS = [
  "1e999",
  "-1e999",
  "NaN",
  "Infinity",
  "-0.0",
  "2.50",
  "1E2",
  "0.1e1",
  "1.0",
  "-0",
];
const STRINGS = [
  "A",
  "B",
  "sensor_001",
  "",
  " ",
  "a/b",
  "../x",
  ".hidden",
  "_x",
  "x".repeat(64),
  "x".repeat(65),
  "é",
  "null",
  "22.5",
  "A-F2-temperature-01",
  "a\u0000b",
  "tab\there",
];

/** A JSON value drawn from the hostile pool, as JSON text. */
function hostileValue(r: () => number): string {
  const k = r();
  if (k < 0.35) return JSON.stringify(pick(r, NUMBERS));
  if (k < 0.45) return pick(r, RAW_NUMBERS);
  if (k < 0.65) return JSON.stringify(pick(r, STRINGS));
  if (k < 0.72) return pick(r, ["null", "true", "false", "[]", "{}", "[1]", '{"a":1}']);
  return JSON.stringify(r() * 2000 - 500);
}

/** A random payload: mostly plausible readings, each field perturbed with some probability. */
function randomPayload(r: () => number, cat: SensorCatalogue, i: number): string {
  const types = [...cat.types.values()];
  const spec = pick(r, types);
  const spellings = [...spec.units.keys()];
  const [lo, hi] = spec.range;
  const value = (lo ?? -100) + r() * ((hi ?? 100) - (lo ?? -100)) * 1.05;
  const fields: [string, string][] = [
    ["timestamp", r() < 0.6 ? JSON.stringify(pick(r, ISO)) : JSON.stringify(pick(r, EPOCHS))],
    ["device_id", JSON.stringify(`d${i % 97}`)],
    ["building", JSON.stringify(pick(r, ["A", "B", "C"]))],
    ["floor", String(Math.floor(r() * 5))],
    ["type", JSON.stringify(spec.name)],
    ["value", JSON.stringify(Math.round(value * 1000) / 1000)],
  ];
  if (r() < 0.8) fields.push(["unit", JSON.stringify(pick(r, spellings))]);
  // perturb: replace a value, drop, rename to an alias, duplicate, escape a key
  const aliases = Object.values(cat.fields).flat().map((p) => p[0]);
  for (let k = 0; k < 3; k++) {
    const x = r();
    const j = Math.floor(r() * fields.length);
    if (x < 0.18) fields[j] = [fields[j][0], hostileValue(r)];
    else if (x < 0.22) fields.splice(j, 1);
    else if (x < 0.27) fields[j] = [pick(r, aliases), fields[j][1]];
    else if (x < 0.3) fields.push([fields[j][0], hostileValue(r)]);
    else if (x < 0.32) fields[j] = [fields[j][0].replace("e", "\\u0065"), fields[j][1]];
    else if (x < 0.35) {
      fields.push([pick(r, ["battery", "rssi", "radio", "meta", "firmware"]), hostileValue(r)]);
    } else if (x < 0.37) fields.push([pick(r, types).name, hostileValue(r)]);
    else if (x < 0.39) fields.push(["unit", hostileValue(r)]);
  }
  const sep = r() < 0.1 ? " , " : ",";
  const colon = r() < 0.1 ? " :\n" : ":";
  let text = `{${fields.map(([k, v]) => `"${k}"${colon}${v}`).join(sep)}}`;
  const m = r();
  if (m < 0.03) text = text.slice(0, -1) + ",}";
  else if (m < 0.05) text = "\ufeff" + text;
  else if (m < 0.07) text = text.slice(0, Math.floor(r() * text.length));
  else if (m < 0.09) {
    const at = Math.floor(r() * text.length);
    text = text.slice(0, at) + pick(r, ["}", "{", '"', ",", "\\", "/*x*/", "]"]) + text.slice(at);
  } else if (m < 0.1) text = `[${text}]`;
  else if (m < 0.11) text = `${text} ${text}`;
  return text;
}

/** `n` random payloads for `cat`, from `seed`. */
export function randomPayloads(cat: SensorCatalogue, n: number, seed: number): string[] {
  const r = prng(seed);
  return Array.from({ length: n }, (_, i) => randomPayload(r, cat, i));
}

/**
 * `n` payloads shaped as the simulator encodes them (src/simulator/encoder.ts: timestamp first,
 * the device's fixed middle, the value with its firmware's decimals, the unit), event times up
 * to a day before `nowMs`, with the producer's variants (epoch seconds/ms, offset ISO, °F/K/Wh)
 * and ~3 % faults (malformed, missing fields, wrong types, out of range, future).
 */
export function simulatorPayloads(n: number, seed: number, nowMs: number): string[] {
  const r = prng(seed);
  const types = [
    ["temperature", "C", 21, 2],
    ["humidity", "%", 45, 1],
    ["co2", "ppm", 650, 0],
    ["energy", "kWh", 0.4, 6],
  ] as const;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const [type, unit, base, dec] = types[i % 4];
    const t = nowMs - 86_400_000 + Math.floor(r() * 86_000_000);
    let ts = JSON.stringify(new Date(t - (t % 1000)).toISOString().slice(0, 19) + "Z");
    const v = r();
    if (v < 0.02) ts = String(Math.floor(t / 1000));
    else if (v < 0.04) ts = String(t);
    else if (v < 0.05) ts = JSON.stringify(new Date(t).toISOString());
    let value = Math.round((base * (0.8 + 0.4 * r())) * 10 ** dec) / 10 ** dec;
    let u: string = unit;
    const w = r();
    if (w < 0.02 && type === "temperature") {
      [value, u] = [Math.round((value * 9 / 5 + 32) * 100) / 100, "°F"];
    } else if (w < 0.02 && type === "energy") {
      [value, u] = [Math.round(value * 1000 * 1000) / 1000, "Wh"];
    } else if (w < 0.03 && type === "temperature") {
      [value, u] = [Math.round((value + 273.15) * 100) / 100, "K"];
    }
    const dev = `${"ABC"[i % 3]}-F${i % 5}-${type}-0${i % 7}`;
    let s =
      `{"timestamp":${ts},"device_id":"${dev}","building":"${"ABC"[i % 3]}","floor":${i % 5},` +
      `"type":"${type}","value":${value},"unit":"${u}"}`;
    const f = r();
    if (f < 0.005) s = s.slice(0, Math.floor(s.length / 2));
    else if (f < 0.01) s = s.replace(/"value":[^,}]+/, '"value":NaN');
    else if (f < 0.015) s = s.slice(0, -1) + ",}";
    else if (f < 0.02) s = s.replace('"floor"', '"flor"');
    else if (f < 0.025) s = s.replace(`"value":${value}`, `"value":"${value}"`);
    else if (f < 0.03) s = s.replace(`"value":${value}`, `"value":${value * 1000 + 20000}`);
    else if (f < 0.035) {
      s = s.replace(ts, JSON.stringify(new Date(nowMs + 3_600_000).toISOString()));
    }
    out.push(s);
  }
  return out;
}
