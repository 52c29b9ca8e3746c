/**
 * Where the flush's DuckDB time goes: runs bench/profile_ingest.ts's workload with every
 * statement the pipeline sends to DuckDB timed (wall and process CPU, which is DuckDB's
 * threads plus the waiting main thread), grouped by what it does — each table's COPY, the
 * partition counts before it, the staging materialisation, the rest. A bench-only wrapper
 * around the node-api connection: nothing in src/ knows about it.
 *
 * Run: `deno run --allow-read --allow-write --allow-ffi --allow-env --allow-sys
 * bench/profile_sql.ts [messages=300000] [maxRows=50000] [future]`.
 *
 * @module
 */
import process from "node:process";
import { DuckDBConnection } from "@duckdb/node-api";
import { profileIngest } from "./profile_ingest.ts";

/** The kind of a statement, from its text. */
function kindOf(sql: string): string {
  const s = sql.trimStart();
  if (s.startsWith("COPY")) {
    const table = s.includes('"reason"')
      ? "quarantine"
      : s.includes('"readings"')
      ? "bronze"
      : "silver";
    return `COPY ${table}`;
  }
  if (s.startsWith("SELECT count(*)::BIGINT")) return "partition counts";
  if (/^CREATE OR REPLACE TEMP TABLE staging AS/.test(s)) return "staging (materialise)";
  if (s.startsWith("UPDATE") || s.includes("silver_hits") || s.includes("unresolved")) {
    return "dedup checks against silver";
  }
  return "other statements";
}

type Method = (this: DuckDBConnection, sql: string, ...rest: unknown[]) => Promise<unknown>;

/** Wraps the connection's statement methods; returns the per-kind totals (ms). */
function instrument(): Map<string, { wall: number; cpu: number; n: number }> {
  const totals = new Map<string, { wall: number; cpu: number; n: number }>();
  let depth = 0;
  const proto = DuckDBConnection.prototype as unknown as Record<string, Method>;
  for (const name of ["run", "runAndReadAll", "runAndRead"]) {
    const orig = proto[name];
    proto[name] = async function (this: DuckDBConnection, sql: string, ...rest: unknown[]) {
      // The node-api's methods call each other: time the outermost call only.
      if (depth++ > 0) {
        try {
          return await orig.call(this, sql, ...rest);
        } finally {
          depth--;
        }
      }
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      try {
        return await orig.call(this, sql, ...rest);
      } finally {
        depth--;
        const c = process.cpuUsage(c0);
        const k = kindOf(sql);
        const e = totals.get(k) ?? { wall: 0, cpu: 0, n: 0 };
        e.wall += performance.now() - t0;
        e.cpu += (c.user + c.system) / 1000;
        e.n++;
        totals.set(k, e);
      }
    };
  }
  return totals;
}

if (import.meta.main) {
  const messages = Number(Deno.args[0] ?? 300_000);
  const totals = instrument();
  const c0 = process.cpuUsage();
  const r = await profileIngest(
    messages,
    Number(Deno.args[1] ?? 50_000),
    Deno.args[2] === "future" ? "future" : "past",
  );
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ ...r, cpuSeconds: (c.user + c.system) / 1e6 }));
  console.log("statement kind | calls | wall µs/msg | CPU µs/msg");
  for (const [k, v] of [...totals].sort((a, b) => b[1].cpu - a[1].cpu)) {
    const us = (ms: number) => (ms * 1000 / messages).toFixed(2);
    console.log(`${k} | ${v.n} | ${us(v.wall)} | ${us(v.cpu)}`);
  }
}
