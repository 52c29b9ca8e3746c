/**
 * Decode throughput: how many Kafka-like payloads (UTF-8 bytes) `decodeReading` handles per
 * second on one thread. The pipeline needs > 150k msgs/s here, so this must stay well above.
 *
 * The same data is also decoded under a 40-type catalogue (the four plus 36 more, each with a
 * few unit spellings): decoding looks a type and a unit up in Maps, so the figure must not
 * move with the catalogue's size.
 *
 * Run: `deno run --allow-read bench/decode_bench.ts [messages]`
 *
 * @module
 */
import type { SensorCatalogue } from "../src/reading/catalogue.ts";
import { builtinCatalogue, parseCatalogue } from "../src/reading/catalogue_file.ts";
import { decodeMessage, type DecodeResult } from "../src/reading/decode.ts";

/** Result of one decode benchmark run. */
export interface DecodeBenchResult {
  messages: number;
  valid: number;
  seconds: number;
  msgsPerSec: number;
}

/**
 * Builds `n` realistic payloads: mostly valid readings of all four types with ISO timestamps,
 * plus ~1 % with faults (°F, Wh, epoch ms, malformed), as the simulator sends them.
 */
export function benchPayloads(n: number): Uint8Array[] {
  const enc = new TextEncoder();
  const types = ["temperature", "humidity", "co2", "energy"] as const;
  const units = { temperature: "C", humidity: "%", co2: "ppm", energy: "kWh" } as const;
  const values = { temperature: 22.4, humidity: 44.1, co2: 612, energy: 0.0123 } as const;
  const t0 = Date.UTC(2025, 11, 15, 8);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const type = types[i % 4];
    const ts = new Date(t0 + Math.floor(i / 96) * 1000).toISOString();
    let s = `{"timestamp":"${ts}","device_id":"A-F${i % 3}-${type}-0${i % 8}","building":"A",` +
      `"floor":${i % 3},"type":"${type}","value":${values[type] + (i % 7) / 10},` +
      `"unit":"${units[type]}"}`;
    if (i % 100 === 17) s = s.slice(0, 40);
    if (i % 100 === 42 && type === "temperature") s = s.replace('"unit":"C"', '"unit":"°F"');
    out.push(enc.encode(s));
  }
  return out;
}

/**
 * The repository's catalogue plus `extra` synthetic types (three unit spellings and thresholds
 * each), in file order: the brief's four first, so the same data decodes the same way.
 */
export function largeCatalogue(extra = 36): SensorCatalogue {
  const text = Deno.readTextFileSync(builtinCatalogue().source);
  const more = Array.from(
    { length: extra },
    (_, i) =>
      `  sensor_${i}:\n    unit: u${i}\n    units: {m${i}: {scale: 0.001}, k${i}: {scale: 1000}}\n` +
      `    range: [0, ${1000 + i}]\n    thresholds: {warning: [null, ${500 + i}], max_step: 5}\n`,
  ).join("");
  return parseCatalogue(text.replace("\nfields:", `\n${more}fields:`), "large-catalogue");
}

/**
 * Decodes `messages` payloads (after a warm-up) the way the pipeline does (`decodeMessage`
 * into one reused array) and reports throughput.
 */
export function benchDecode(
  messages = 500_000,
  catalogue: SensorCatalogue = builtinCatalogue(),
): DecodeBenchResult {
  const payloads = benchPayloads(Math.min(messages, 100_000));
  const opts = { catalogue };
  const out: DecodeResult[] = [];
  for (let i = 0; i < 20_000; i++) decodeMessage(payloads[i % payloads.length], opts, out);
  let valid = 0;
  const start = performance.now();
  for (let i = 0; i < messages; i++) {
    if (decodeMessage(payloads[i % payloads.length], opts, out)[0].ok) valid++;
  }
  const seconds = (performance.now() - start) / 1000;
  return { messages, valid, seconds, msgsPerSec: Math.round(messages / seconds) };
}

if (import.meta.main) {
  const n = Number(Deno.args[0] ?? 500_000);
  const large = largeCatalogue();
  // Interleaved runs, best of each: the host is shared, so one slow sitting is noise.
  const runs: Record<string, DecodeBenchResult[]> = { types4: [], types40: [] };
  for (let r = 0; r < 3; r++) {
    runs.types4.push(benchDecode(n));
    runs.types40.push(benchDecode(n, large));
  }
  for (const [name, rs] of Object.entries(runs)) {
    const best = rs.reduce((a, b) => (b.msgsPerSec > a.msgsPerSec ? b : a));
    console.log(JSON.stringify({
      catalogue: name,
      ...best,
      usPerMsg: Number((1e6 / best.msgsPerSec).toFixed(3)),
      allRuns: rs.map((x) => x.msgsPerSec),
    }));
  }
}
