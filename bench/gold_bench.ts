/**
 * Gold refresh benchmarks (functions for the `deno task bench` harness; no assertions).
 *
 * - benchGoldFull(rows): a fresh lakehouse with `rows` synthetic silver readings, then a full
 *   gold refresh (all 8 tables), timed per table.
 * - benchGoldIncremental(newRows): appends `newRows` readings continuing the same devices after
 *   the newest one (what a consumer does), then an incremental refresh, timed per table.
 *
 * Synthetic silver is generated inside DuckDB (no simulator, no Kafka): 120 devices (3
 * buildings x 5 floors x 4 types x 2) reporting every `intervalS` seconds — by default 1 s, the
 * simulator's default rate (1 reading per device per second, as in the seed); 30 s gives the
 * sparse shape where every device-minute holds 2 readings (10M rows = 5M device-minutes) —
 * values with a daily cycle and hashed noise, written through the Delta writer one commit per
 * UTC day, so each silver file covers one day: the time locality streaming ingestion gives (its
 * files are smaller and more numerous). 10M rows is ~23 h at 1 s, ~29 days at 30 s.
 *
 * Run: `deno run -A bench/gold_bench.ts [rows] [newRows] [intervalS]`
 *
 * @module
 */
import { join } from "node:path";
import process from "node:process";
import { appendQuery } from "../src/delta/table.ts";
import { loadSnapshot } from "../src/delta/snapshot.ts";
import { ensureIngestTables } from "../src/pipeline/tables.ts";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { type GoldTableResult, refreshGold } from "../src/gold/refresh.ts";

/** Devices of the synthetic site. */
export const BENCH_DEVICES = 120;
/** Seconds between two readings of a device, by default (the simulator's default rate). */
export const DEFAULT_INTERVAL_S = 1;
const START = Date.UTC(2025, 0, 6);

/** One benchmark run. */
export interface GoldBenchResult {
  lakehouse: string;
  /** Silver rows the refresh read from (the whole table). */
  silverRows: number;
  /** Seconds between two readings of a device in the synthetic silver. */
  intervalS: number;
  /** Rows appended before this refresh (all of them for the full benchmark). */
  newRows: number;
  seconds: number;
  /**
   * CPU seconds (user + system, all threads) the refresh used: steadier than `seconds` on a
   * machine shared with other work, where wall time mostly measures the neighbours.
   */
  cpuSeconds: number;
  /** Seconds spent generating and writing silver (not part of `seconds`). */
  setupSeconds: number;
  tables: Pick<GoldTableResult, "table" | "mode" | "rows" | "seconds" | "scope">[];
}

let lastLakehouse: string | undefined;
/** Reading interval of each bench lakehouse, so appends continue its series. */
const intervals = new Map<string, number>();

/** SQL for readings number [from, to) of the synthetic site (reading i → device i % 120). */
function silverSql(from: number, to: number, intervalS: number): string {
  return `WITH r AS (
      SELECT i, i % ${BENCH_DEVICES} AS d, i // ${BENCH_DEVICES} AS tick FROM range(${from}, ${to}) t(i)
    ), dev AS (
      SELECT d, ['A', 'B', 'C'][1 + d // 40] AS building, (d // 8) % 5 AS floor,
        ['temperature', 'humidity', 'co2', 'energy'][1 + (d // 2) % 4] AS type
      FROM range(${BENCH_DEVICES}) t(d)
    )
    SELECT to_timestamp(${START / 1000} + tick * ${intervalS}) AS timestamp,
      dev.building || '-F' || dev.floor || '-' || dev.type || '-0' || (1 + d % 2) AS device_id,
      dev.floor AS floor,
      CASE dev.type
        WHEN 'temperature' THEN 21 + 1.5 * sin(tick * ${intervalS} * 2 * pi() / 86400) + (hash(i) % 100) / 400.0
        WHEN 'humidity' THEN 45 + 5 * sin(tick * ${intervalS} * 2 * pi() / 86400) + (hash(i) % 100) / 60.0
        WHEN 'co2' THEN 600 + 200 * sin(tick * ${intervalS} * 2 * pi() / 86400) + (hash(i) % 30)
        ELSE 0.05 + 0.02 * sin(tick * ${intervalS} * 2 * pi() / 86400) + (hash(i) % 100) / 100000.0
      END AS value,
      CASE dev.type WHEN 'temperature' THEN 'C' WHEN 'humidity' THEN '%' WHEN 'co2' THEN 'ppm' ELSE 'kWh' END AS unit,
      'bench:' || i AS source,
      now() AS ingest_time,
      dev.building, dev.type
    FROM r JOIN dev USING (d)`;
}

/** Appends synthetic readings [from, to) to `<lakehouse>/silver`, one commit per UTC day; returns seconds spent. */
export async function appendSilver(
  lakehouse: string,
  from: number,
  to: number,
  intervalS = intervals.get(lakehouse) ?? DEFAULT_INTERVAL_S,
): Promise<number> {
  const t0 = performance.now();
  intervals.set(lakehouse, intervalS);
  await ensureIngestTables(lakehouse);
  const perDay = Math.floor(86_400 / intervalS) * BENCH_DEVICES;
  const db = await openDuckDB({ delta: false });
  try {
    for (let lo = from; lo < to;) {
      const hi = Math.min(to, (Math.floor(lo / perDay) + 1) * perDay);
      await appendQuery(db.conn, join(lakehouse, "silver"), silverSql(lo, hi, intervalS));
      lo = hi;
    }
  } finally {
    db.close();
  }
  return (performance.now() - t0) / 1000;
}

function cpuSince(start: ReturnType<typeof process.cpuUsage>): number {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1e6;
}

async function silverRows(lakehouse: string): Promise<number> {
  const snap = await loadSnapshot(join(lakehouse, "silver"));
  return snap.files.reduce((n, f) => n + (JSON.parse(f.stats ?? "{}").numRecords ?? 0), 0);
}

function summarise(results: GoldTableResult[]): GoldBenchResult["tables"] {
  return results.map(({ table, mode, rows, seconds, scope }) => ({
    table,
    mode,
    rows,
    seconds,
    scope,
  }));
}

/**
 * Full gold refresh over `rows` synthetic silver rows in a fresh temp lakehouse (kept for
 * benchGoldIncremental; remove it with cleanupGoldBench).
 */
export async function benchGoldFull(
  rows = 10_000_000,
  opts: { threads?: number; intervalS?: number } = {},
): Promise<GoldBenchResult> {
  const lakehouse = await Deno.makeTempDir({ prefix: "gold-bench-" });
  lastLakehouse = lakehouse;
  const setupSeconds = await appendSilver(lakehouse, 0, rows, opts.intervalS);
  const t0 = performance.now(), cpu0 = process.cpuUsage();
  const results = await refreshGold(lakehouse, { full: true, threads: opts.threads });
  return {
    lakehouse,
    silverRows: rows,
    intervalS: opts.intervalS ?? DEFAULT_INTERVAL_S,
    newRows: rows,
    seconds: (performance.now() - t0) / 1000,
    cpuSeconds: cpuSince(cpu0),
    setupSeconds,
    tables: summarise(results),
  };
}

/**
 * Appends `newRows` readings after the newest one and refreshes incrementally. Uses the
 * lakehouse of the last benchGoldFull (or `opts.lakehouse`); without either, builds a base of
 * `opts.baseRows` (default 10M) first, untimed.
 */
export async function benchGoldIncremental(
  newRows = 100_000,
  opts: { lakehouse?: string; baseRows?: number; threads?: number } = {},
): Promise<GoldBenchResult> {
  let lakehouse = opts.lakehouse ?? lastLakehouse;
  let setupSeconds = 0;
  if (!lakehouse) {
    const base = await benchGoldFull(opts.baseRows ?? 10_000_000, opts);
    lakehouse = base.lakehouse;
    setupSeconds += base.setupSeconds + base.seconds;
  }
  const have = await silverRows(lakehouse);
  setupSeconds += await appendSilver(lakehouse, have, have + newRows);
  const t0 = performance.now(), cpu0 = process.cpuUsage();
  const results = await refreshGold(lakehouse, { threads: opts.threads });
  return {
    lakehouse,
    silverRows: have + newRows,
    intervalS: intervals.get(lakehouse) ?? DEFAULT_INTERVAL_S,
    newRows,
    seconds: (performance.now() - t0) / 1000,
    cpuSeconds: cpuSince(cpu0),
    setupSeconds,
    tables: summarise(results),
  };
}

/** Removes the lakehouse the benchmarks left behind. */
export async function cleanupGoldBench(lakehouse = lastLakehouse): Promise<void> {
  if (lakehouse) await Deno.remove(lakehouse, { recursive: true }).catch(() => {});
  if (lakehouse) intervals.delete(lakehouse);
  if (lakehouse === lastLakehouse) lastLakehouse = undefined;
}

if (import.meta.main) {
  const rows = Number(Deno.args[0] ?? 10_000_000);
  const newRows = Number(Deno.args[1] ?? 100_000);
  const intervalS = Number(Deno.args[2] ?? DEFAULT_INTERVAL_S);
  const show = (label: string, r: GoldBenchResult) => {
    console.log(
      `${label}: ${r.seconds.toFixed(2)} s (${
        r.cpuSeconds.toFixed(2)
      } s CPU) over ${r.silverRows} silver rows (setup ${r.setupSeconds.toFixed(1)} s)`,
    );
    for (const t of r.tables) {
      console.log(
        `  ${t.table.padEnd(14)} ${t.mode.padEnd(11)} ${t.seconds.toFixed(2)} s  ${t.scope}`,
      );
    }
  };
  try {
    show("full", await benchGoldFull(rows, { intervalS }));
    show("incremental", await benchGoldIncremental(newRows));
    show("incremental", await benchGoldIncremental(newRows));
  } finally {
    await cleanupGoldBench();
  }
}
