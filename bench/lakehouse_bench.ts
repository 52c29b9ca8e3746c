/**
 * Lakehouse-side benchmarks: table health before/after `optimize`, and the dashboard's queries
 * over a gold-bench lakehouse. Gold refresh itself is bench/gold_bench.ts.
 *
 * @module
 */
import type { DuckDBValue } from "@duckdb/node-api";
import { loadSnapshot } from "../src/delta/snapshot.ts";
import { optimize } from "../src/delta/optimize.ts";
import { clearSnapshotCaches } from "../src/delta/snapshot.ts";
import { DashboardModel } from "../src/dashboard/model.ts";
import { DASHBOARD_QUERIES, loadDashboardSql, runQuery } from "../src/dashboard/queries.ts";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { createLakehouseViews } from "../src/query/views.ts";
import { percentile } from "./stats.ts";

/** Layout of one table's latest snapshot. */
export interface TableHealth {
  version: number;
  files: number;
  partitions: number;
  meanFilesPerPartition: number;
  maxFilesPerPartition: number;
  meanFileBytes: number;
  totalBytes: number;
}

/** Files per partition and file sizes of the table at `path`. */
export async function tableHealth(path: string): Promise<TableHealth> {
  clearSnapshotCaches();
  const snap = await loadSnapshot(path);
  const perPartition = new Map<string, number>();
  let total = 0;
  for (const f of snap.files) {
    const k = JSON.stringify(snap.partitionColumns.map((c) => f.partitionValues[c] ?? null));
    perPartition.set(k, (perPartition.get(k) ?? 0) + 1);
    total += f.size;
  }
  const counts = [...perPartition.values()];
  return {
    version: snap.version,
    files: snap.files.length,
    partitions: counts.length,
    meanFilesPerPartition: counts.length
      ? Number((snap.files.length / counts.length).toFixed(1))
      : 0,
    maxFilesPerPartition: counts.length ? Math.max(...counts) : 0,
    meanFileBytes: snap.files.length ? Math.round(total / snap.files.length) : 0,
    totalBytes: total,
  };
}

/** Health before, the optimize run, and health after. */
export interface OptimizeBench {
  before: TableHealth;
  after: TableHealth;
  optimizeSeconds: number;
  filesRemoved: number;
  filesAdded: number;
}

/** Measures `path`, compacts it with `optimize` (default target size), measures again. */
export async function benchOptimize(path: string): Promise<OptimizeBench> {
  const before = await tableHealth(path);
  const t0 = performance.now();
  const r = await optimize(path);
  const optimizeSeconds = (performance.now() - t0) / 1000;
  return {
    before,
    after: await tableHealth(path),
    optimizeSeconds: Number(optimizeSeconds.toFixed(2)),
    filesRemoved: r.filesRemoved,
    filesAdded: r.filesAdded,
  };
}

/** Latency of one dashboard query over repeated runs. */
export interface QueryTiming {
  query: string;
  runs: number;
  rows: number;
  p50Ms: number;
  p95Ms: number;
}

/** The dashboard's queries and its cold refresh over a lakehouse. */
export interface DashboardBench {
  /** DashboardModel.open + a first refresh with both chart ranges: a cold server's first state. */
  coldRefreshMs: number;
  queries: QueryTiming[];
}

/**
 * Times every query of sql/dashboard/ `runs` times (after one warm-up) on a 1-thread DuckDB,
 * as the dashboard runs them (DashboardModel opens DuckDB with 1 thread), with the parameters
 * the dashboard binds: now = newest event time in silver, the first building, both ranges.
 */
export async function benchDashboard(lakehouse: string, runs: number): Promise<DashboardBench> {
  clearSnapshotCaches();
  const t0 = performance.now();
  const model = await DashboardModel.open(lakehouse);
  try {
    await model.refresh(() => {
      const building = model.defaultBuilding();
      return building
        ? [{ building, range: "hour" as const }, { building, range: "day" as const }]
        : [];
    });
  } finally {
    model.close();
  }
  const coldRefreshMs = Math.round(performance.now() - t0);

  const sql = await loadDashboardSql();
  const db = await openDuckDB({ threads: 1, memoryLimit: "512MB" });
  try {
    await createLakehouseViews(db.conn, lakehouse);
    const head = await (await db.conn.run(
      "SELECT strftime(max(timestamp), '%Y-%m-%dT%H:%M:%S.%gZ') AS now, min(building) AS b FROM silver",
    )).getRowObjectsJS();
    const now = String(head[0].now);
    const building = String(head[0].b);
    const cases: [string, string, Record<string, DuckDBValue>][] = [];
    for (const name of DASHBOARD_QUERIES) {
      if (name === "series") {
        cases.push([
          "series (hour)",
          sql.series,
          { now, building, range_minutes: 60, bucket_minutes: 1 },
        ]);
        cases.push([
          "series (24 h)",
          sql.series,
          { now, building, range_minutes: 1440, bucket_minutes: 15 },
        ]);
      } else {
        const params: Record<string, DuckDBValue> = sql[name].includes("$now") ? { now } : {};
        cases.push([name, sql[name], params]);
      }
    }
    const out: QueryTiming[] = [];
    for (const [name, text, params] of cases) {
      let rows = 0;
      try {
        rows = (await runQuery(db.conn, text, params)).length; // warm-up
      } catch (err) {
        // e.g. alarms views absent: report, do not fail the whole bench.
        out.push({
          query: `${name} (failed: ${(err as Error).message.slice(0, 80)})`,
          runs: 0,
          rows: 0,
          p50Ms: NaN,
          p95Ms: NaN,
        });
        continue;
      }
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        await runQuery(db.conn, text, params);
        times.push(performance.now() - t);
      }
      out.push({
        query: name,
        runs,
        rows,
        p50Ms: Number(percentile(times, 50).toFixed(1)),
        p95Ms: Number(percentile(times, 95).toFixed(1)),
      });
    }
    return { coldRefreshMs, queries: out };
  } finally {
    db.close();
  }
}
