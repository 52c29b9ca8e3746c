/**
 * Decode cost alone, µs a message, both ways: the reference JavaScript decoder (`decodeMessage`
 * on UTF-8 bytes, as the consumer receives them) and the SQL decoder (sql/decode/fast.sql) over
 * the same payloads appended as one VARCHAR column (the append timed apart from the statement),
 * and the probes of sql/decode/lean_probe.sql (DuckDB's JSON functions alone).
 * Simulator-shaped payloads (src/pipeline/sql_decode_payloads.ts), ~3 % faults.
 *
 * Run: `deno run --allow-read --allow-ffi --allow-env --allow-sys=loadavg bench/decode_sql_bench.ts [messages] [threads]`
 *
 * @module
 */
import { cpuUsage } from "node:process";
import { DuckDBDataChunk, INTEGER, VARCHAR } from "@duckdb/node-api";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { builtinCatalogue } from "../src/reading/catalogue_file.ts";
import { decodeMessage, type DecodeResult } from "../src/reading/decode.ts";
import { simulatorPayloads } from "../src/pipeline/sql_decode_payloads.ts";
import { prepareSqlDecode, runSqlDecode } from "../src/pipeline/sql_decode.ts";
import { readSqlFile } from "../src/query/sql_files.ts";

/** CPU seconds of this process (every thread) so far. */
const cpu = () => {
  const u = cpuUsage();
  return (u.user + u.system) / 1e6;
};
const n = Number(Deno.args[0] ?? 1_000_000);
const threads = Number(Deno.args[1] ?? 1);
const now = Date.now();
const texts = simulatorPayloads(n, 1, now);
const enc = new TextEncoder();
const bytes = texts.map((t) => enc.encode(t));
const cat = builtinCatalogue();
const us = (s: number) => (s * 1e6 / n).toFixed(2);
const line = (name: string, wall: number, c: number) =>
  `${name.padEnd(14)} ${wall.toFixed(2)} s wall ${us(wall)} µs/msg, CPU ${c.toFixed(2)} s ${
    us(c)
  } µs/msg\n`;

const out: DecodeResult[] = [];
const opts = { catalogue: cat, nowMs: now };
let t0 = performance.now();
let c0 = cpu();
let valid = 0;
for (const b of bytes) if (decodeMessage(b, opts, out)[0].ok) valid++;
const jsS = (performance.now() - t0) / 1000;
const jsC = cpu() - c0;

const db = await openDuckDB();
await db.conn.run(`SET threads = ${threads}`);
await prepareSqlDecode(db.conn, cat);
await db.conn.run("CREATE OR REPLACE TEMP TABLE raw_payloads (rec INTEGER, payload VARCHAR)");
t0 = performance.now();
c0 = cpu();
const appender = await db.conn.createAppender("raw_payloads");
for (let start = 0; start < n; start += 2048) {
  const rows = Math.min(2048, n - start);
  const chunk = DuckDBDataChunk.create([INTEGER, VARCHAR], rows);
  const recs = chunk.getColumnVector(0);
  const payloads = chunk.getColumnVector(1);
  for (let j = 0; j < rows; j++) {
    recs.setItem(j, start + j);
    payloads.setItem(j, texts[start + j]);
  }
  recs.flush();
  payloads.flush();
  appender.appendDataChunk(chunk);
}
appender.flushSync();
appender.closeSync();
const appendS = (performance.now() - t0) / 1000;
const appendC = cpu() - c0;
t0 = performance.now();
c0 = cpu();
await runSqlDecode(db.conn, { nowMs: now, futureToleranceMs: 300_000, maxBytes: 1 << 20 });
const sqlS = (performance.now() - t0) / 1000;
const sqlC = cpu() - c0;
const r = await db.conn.runAndReadAll(
  "SELECT count(*) FROM sql_decoded",
);
const decided = Number(r.getRows()[0][0]);
// The lean probes (sql/decode/lean_probe.sql), one statement each, timed apart.
const probes: string[] = [];
const probeText = await readSqlFile("decode/lean_probe.sql");
for (const part of probeText.split(/^-- probe: /m).slice(1)) {
  const name = part.slice(0, part.indexOf("\n"));
  t0 = performance.now();
  c0 = cpu();
  await db.conn.run(part.slice(name.length + 1));
  probes.push(line(`lean: ${name}`, (performance.now() - t0) / 1000, cpu() - c0));
}
db.close();

console.log(
  `messages ${n}, valid ${valid}, SQL-decided ${decided}, DuckDB threads ${threads}\n` +
    line("js decode", jsS, jsC) + line("sql append", appendS, appendC) +
    line("sql decode", sqlS, sqlC) + probes.join("") +
    `load average    ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`,
);
