/**
 * Decode throughput: how many Kafka-like payloads (UTF-8 bytes) `decodeReading` handles per
 * second on one thread. The pipeline needs > 150k msgs/s here, so this must stay well above.
 *
 * Run: `deno run bench/decode_bench.ts [messages]`
 *
 * @module
 */
import { decodeReading } from "../src/reading/decode.ts";

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

/** Decodes `messages` payloads (after a warm-up) and reports throughput. */
export function benchDecode(messages = 500_000): DecodeBenchResult {
  const payloads = benchPayloads(Math.min(messages, 100_000));
  for (let i = 0; i < 20_000; i++) decodeReading(payloads[i % payloads.length]);
  let valid = 0;
  const start = performance.now();
  for (let i = 0; i < messages; i++) {
    if (decodeReading(payloads[i % payloads.length]).ok) valid++;
  }
  const seconds = (performance.now() - start) / 1000;
  return { messages, valid, seconds, msgsPerSec: Math.round(messages / seconds) };
}

if (import.meta.main) {
  const n = Number(Deno.args[0] ?? 500_000);
  console.log(JSON.stringify(benchDecode(n)));
}
