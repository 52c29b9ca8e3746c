/**
 * Views over the lakehouse's Delta tables: `bronze`, `silver`, `quarantine` and `gold_<name>`.
 *
 * Two readers, both pinned to one committed snapshot so a query never sees a half-finished
 * write of a concurrent consumer or gold refresh:
 * - `deltaScanSql`: DuckDB's delta_scan (delta-kernel-rs) at an explicit version — what the query
 *   CLI uses, so every table is read by an independent, strict Delta reader;
 * - `snapshotScanSql`: read_parquet over a chosen subset of the snapshot's files with the
 *   partition values added as typed constants — what the gold refresh uses, because it prunes
 *   files by their `add.stats` (time ranges) before DuckDB opens any of them, and what the
 *   long-running dashboard uses, because delta_scan keeps native memory per scan
 *   (duckdb/duckdb-delta#279; src/dashboard/model.ts).
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { joinLocation, resolveLocation } from "../storage/location.ts";
import { storageFor } from "../storage/storage.ts";
import { enableLocation } from "../duckdb/s3.ts";
import { listLog, listRecentLog } from "../delta/log.ts";
import { loadSnapshot, type Snapshot } from "../delta/snapshot.ts";
import { versionAtTimestamp } from "../delta/snapshot.ts";
import { VersionNotFoundError } from "../delta/errors.ts";
import { sqlIdent, sqlString } from "../duckdb/engine.ts";
import { INGEST_TABLES } from "../pipeline/tables.ts";

/** A table of the lakehouse and the view name it gets. */
export interface LakehouseTable {
  /** View name: `silver`, `gold_readings_1m`, … */
  view: string;
  /** Absolute or lakehouse-relative path of the Delta table. */
  path: string;
}

/** Point in time for time travel: a version (per table) or an instant (each table's version then). */
export type AsOf = { version: number } | { timestamp: Date };

/**
 * Time travel over the lakehouse: an instant for every table (`at`), and per view a version or
 * instant of its own (`tables`, which wins). Versions are per table: there is no lakehouse-wide
 * version number.
 */
export interface TimeTravel {
  at?: Date;
  tables?: Record<string, AsOf>;
}

/** Whether `path` holds a table; a storage that does not answer is an error, not "no". */
async function isDeltaTable(path: string): Promise<boolean> {
  const listing = await listRecentLog(path) ?? await listLog(path);
  return listing.commits.length > 0 || listing.checkpoints.length > 0;
}

/** Lists the Delta tables under a lakehouse: the ingestion tables, then gold tables by name. */
export async function listLakehouseTables(lakehouse: string): Promise<LakehouseTable[]> {
  const out: LakehouseTable[] = [];
  const root = resolveLocation(lakehouse);
  for (const name of INGEST_TABLES) {
    const path = joinLocation(root, name);
    if (await isDeltaTable(path)) out.push({ view: name, path });
  }
  const goldDir = joinLocation(root, "gold");
  const gold: LakehouseTable[] = [];
  for (const name of await storageFor(goldDir).listDirectories(goldDir)) {
    if (!/^[a-z0-9_]+$/.test(name)) continue;
    const path = joinLocation(goldDir, name);
    if (await isDeltaTable(path)) gold.push({ view: `gold_${name}`, path });
  }
  gold.sort((a, b) => a.view.localeCompare(b.view));
  return [...out, ...gold];
}

/**
 * The table a user names: its view name (`silver`, `gold_alarms`) or its path under the
 * lakehouse (`gold/alarms`). Unknown names throw, listing the tables there are.
 */
export async function findLakehouseTable(
  lakehouse: string,
  name: string,
): Promise<LakehouseTable> {
  const tables = await listLakehouseTables(lakehouse);
  const wanted = name.replace(/\/+$/, "");
  const hit = tables.find((t) =>
    t.view === wanted || t.path === joinLocation(resolveLocation(lakehouse), wanted) ||
    t.path === wanted
  );
  if (hit) return hit;
  throw new Error(
    `no table "${name}" in ${lakehouse}; tables: ${
      tables.map((t) => t.view).join(", ") || "none yet"
    }`,
  );
}

/** `delta_scan(path, version => v)`: delta-kernel-rs reading exactly version `v`. */
export function deltaScanSql(path: string, version: number): string {
  return `delta_scan(${sqlString(path)}, version => ${Math.trunc(version)})`;
}

/** What createLakehouseViews made: per view, the table version it reads and when that was committed. */
export interface ViewInfo extends LakehouseTable {
  version: number;
  commitTimestamp: number;
  snapshot: Snapshot;
}

/** Options of createLakehouseViews. */
export interface CreateViewsOptions {
  /**
   * Time travel. A table that did not exist yet at `at` is skipped (and reported); a version or
   * instant named for one table that it cannot serve is an error.
   */
  asOf?: TimeTravel;
  /** Called for each table skipped because of `asOf.at`. */
  onSkip?: (table: LakehouseTable, reason: string) => void;
}

/**
 * Creates (or replaces) one temp view per lakehouse table, each pinned to a committed version
 * read through delta_scan: the latest, or the one `asOf` names.
 */
export async function createLakehouseViews(
  conn: DuckDBConnection,
  lakehouse: string,
  opts: CreateViewsOptions = {},
): Promise<ViewInfo[]> {
  const out: ViewInfo[] = [];
  await enableLocation(conn, resolveLocation(lakehouse));
  const tables = await listLakehouseTables(lakehouse);
  const named = opts.asOf?.tables ?? {};
  const unknown = Object.keys(named).filter((v) => !tables.some((t) => t.view === v));
  if (unknown.length > 0) {
    throw new Error(
      `--as-of names ${unknown.join(", ")}, not a table of ${lakehouse}; tables: ${
        tables.map((t) => t.view).join(", ") || "none yet"
      }`,
    );
  }
  for (const table of tables) {
    const asOf: AsOf | undefined = named[table.view] ??
      (opts.asOf?.at ? { timestamp: opts.asOf.at } : undefined);
    let snapshot: Snapshot;
    try {
      const version = asOf === undefined
        ? undefined
        : "version" in asOf
        ? asOf.version
        : await versionAtTimestamp(table.path, asOf.timestamp);
      snapshot = await loadSnapshot(table.path, { version, tombstones: false });
    } catch (err) {
      if (!asOf || named[table.view] || !(err instanceof VersionNotFoundError)) {
        throw asOf && err instanceof VersionNotFoundError
          ? new VersionNotFoundError(`${table.view}: ${err.message}`)
          : err;
      }
      opts.onSkip?.(table, err.message);
      continue;
    }
    await conn.run(
      `CREATE OR REPLACE TEMP VIEW ${sqlIdent(table.view)} AS SELECT * FROM ${
        deltaScanSql(snapshot.path, snapshot.version)
      }`,
    );
    out.push({
      ...table,
      version: snapshot.version,
      commitTimestamp: snapshot.commitTimestamp,
      snapshot,
    });
  }
  return out;
}
