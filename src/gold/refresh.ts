/**
 * Materialising the gold tables (sql/gold/*.sql, sql/alarms/*.sql) as Delta tables under
 * `<lakehouse>/gold/`, incrementally.
 *
 * Invariant: each gold table's commit carries `txn(appId = "gold-<name>-silver", version = the
 * silver version it was computed from)` in the same commit as its data, so "what gold has seen"
 * can never disagree with what gold holds, even after a crash between tables.
 *
 * A refresh diffs the silver snapshot at that recorded version against the latest one. Silver
 * files added (or removed) with dataChange=true are what changed; their `add.stats`
 * min/max timestamp say which event-time range changed:
 * - windowed tables (partitioned by `day`, windowed.ts) recompute the whole UTC hours those
 *   ranges touch (days for `recompute: "day"`, energy_daily), from the silver rows in them, and
 *   rewrite the days holding them in one commit (a day's other hours are kept as they were);
 * - `device_health` is rebuilt from the last hour of silver plus the previous rows (health.ts);
 * - `alarms` are recomputed from a lookback before the first changed reading (far enough back
 *   to include every episode the new data could extend, merge or end), keeping older episodes
 *   (alarms.ts).
 * The silver rows those read are materialised once per refresh and shared (scope.ts).
 * Compactions (dataChange=false) change nothing. No silver change → no gold commit at all, so
 * running twice is a no-op. `full` recomputes everything from all of silver.
 */
import { joinLocation, resolveLocation } from "../storage/location.ts";
import { commit } from "../delta/commit.ts";
import { TableNotFoundError } from "../delta/errors.ts";
import { decodeAddPath } from "../delta/partition.ts";
import { loadSnapshot, type Snapshot } from "../delta/snapshot.ts";
import { createTable, releaseStagingDirectories } from "../delta/table.ts";
import type { SensorCatalogue } from "../reading/catalogue.ts";
import { builtinCatalogue } from "../reading/catalogue_file.ts";
import { refreshAlarms } from "./alarms.ts";
import { rowCount } from "./changes.ts";
import { refreshHealth } from "./health.ts";
import { refreshIncidents } from "./incidents.ts";
import { ALARM_TABLES, baselineTouched, healthRebuilt, newestReadingMs } from "./schedule.ts";
import type { ReadingsCache } from "./readings_cache.ts";
import { Refresh } from "./scope.ts";
import { type GoldSession, oneOffConnection } from "./session.ts";
import { GOLD_TABLES, type GoldTableDef, goldTablePath, goldTxnAppId } from "./tables.ts";
import { refreshWindowed } from "./windowed.ts";

/** Raised when there is no silver table to build gold from. */
export class NoSilverError extends Error {
  constructor(path: string) {
    super(`no silver table at ${path}: ingest some data first (deno task consume / ingest-files)`);
    this.name = "NoSilverError";
  }
}

/** Options of refreshGold. */
export interface RefreshGoldOptions {
  /** Recompute every table from all of silver (default false: incremental). */
  full?: boolean;
  /** Only these tables (default all, in GOLD_TABLES order). */
  tables?: string[];
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** DuckDB threads (default: DuckDB's choice, the core count). */
  threads?: number;
  /** DuckDB memory_limit, e.g. "4GB". */
  memoryLimit?: string;
  /** Where DuckDB spills past memoryLimit (default: `.tmp` in the working directory). */
  tempDirectory?: string;
  /**
   * The sensor catalogue: alarm limits per type, which types are energy counters, units
   * (default: the built-in catalogue, the brief's four types; tasks pass `--sensors`).
   */
  catalogue?: SensorCatalogue;
  /**
   * Refresh the alarm path first — alarms and incidents, preceded by energy_hourly or
   * device_health only when their lag could change an alarm (schedule.ts) — then the other
   * tables: `gold --watch` notifies as soon as incidents are committed (onTable), not after the
   * aggregates, which nothing alarms on.
   */
  alarmsFirst?: boolean;
  /**
   * Asked before each table off the alarm path whether it may wait for a later cycle (`gold
   * --watch`: a newer silver version is pending, schedule.ts); a deferred table is left out of
   * the results and catches up later from the silver version its own commit recorded.
   */
  defer?: (table: string) => boolean | Promise<boolean>;
  /**
   * `gold --watch`: recent silver rows kept between refreshes for the alarms, topped up with
   * the new files only (readings_cache.ts).
   */
  readingsCache?: ReadingsCache;
  /** Told each table's result as soon as it is committed (or found unchanged). */
  onTable?: (result: GoldTableResult) => void;
  /**
   * `gold --watch`: a DuckDB kept set up between refreshes (session.ts) instead of one opened
   * and closed by this refresh; `threads` and `memoryLimit` are then the session's.
   */
  session?: GoldSession;
}

/**
 * The alarm path of this refresh among `defs`: alarms and incidents, and energy_hourly or
 * device_health when their pending change could alter an alarm or incident (schedule.ts).
 */
async function alarmPath(r: Refresh, defs: GoldTableDef[]): Promise<Set<string>> {
  const has = (name: string) => defs.some((d) => d.name === name);
  const path = new Set(ALARM_TABLES.filter(has));
  if (path.size === 0) return path;
  /** The table's pending change; "current" when it is up to date, null when unknown. */
  const pending = async (name: string) => {
    const gold = await ensureGoldTable(r.lakehouse, GOLD_TABLES.find((d) => d.name === name)!);
    const seen = gold.txnVersion(goldTxnAppId(name));
    if (seen === r.silver.version) return "current";
    return seen === undefined || seen > r.silver.version ? null : await r.change(seen);
  };
  if (has("energy_hourly") && path.has("alarms")) {
    const change = await pending("energy_hourly");
    if (change !== "current" && baselineTouched(change, newestReadingMs(r.silver))) {
      path.add("energy_hourly");
    }
  }
  if (has("device_health") && path.has("incidents")) {
    const change = await pending("device_health");
    if (change !== "current" && healthRebuilt(change)) path.add("device_health");
  }
  return path;
}

/** What a refresh did to one table. */
export interface GoldTableResult {
  table: string;
  /** `unchanged` when silver had not changed since the table was built. */
  mode: "full" | "incremental" | "unchanged";
  /** Rows in the table after the refresh (from file stats). */
  rows: number;
  /** Rows written by this refresh. */
  written: number;
  /** Table version after the refresh. */
  version: number;
  /** Silver version the table now reflects. */
  silverVersion: number;
  /** Hours or days recomputed (windowed tables), or the recompute start (alarms), for logs. */
  scope: string;
  seconds: number;
  /**
   * Event time (ms) of the newest reading among the silver rows this refresh newly read for the
   * table; null when it read none or rebuilt fully. Alarm latency is measured from it.
   */
  newestReadingMs: number | null;
}

/** Creates the gold table if missing (idempotent) and returns its latest snapshot. */
export function ensureGoldTable(lakehouse: string, def: GoldTableDef): Promise<Snapshot> {
  return createTable(goldTablePath(lakehouse, def.name), {
    schema: def.schema,
    partitionColumns: def.partitionColumns,
    name: `gold_${def.name}`,
    description: def.description,
    properties: { "delta.checkpointInterval": "10" },
  });
}

/**
 * Brings every gold table up to date with silver (see the module doc). Returns one result per
 * table, in refresh order. Throws NoSilverError when silver does not exist yet.
 *
 * @example
 * ```ts
 * const results = await refreshGold("./lakehouse");
 * for (const r of results) console.log(r.table, r.mode, r.rows, r.version);
 * ```
 */
export async function refreshGold(
  lakehouse: string,
  opts: RefreshGoldOptions = {},
): Promise<GoldTableResult[]> {
  const silverPath = joinLocation(resolveLocation(lakehouse), "silver");
  let silver: Snapshot;
  try {
    silver = await loadSnapshot(silverPath, { tombstones: false });
  } catch (err) {
    if (err instanceof TableNotFoundError) throw new NoSilverError(silverPath);
    throw err;
  }
  let defs = opts.tables
    ? GOLD_TABLES.filter((d) => opts.tables!.includes(d.name))
    : [...GOLD_TABLES];
  const unknown = (opts.tables ?? []).filter((t) => !GOLD_TABLES.some((d) => d.name === t));
  if (unknown.length) throw new RangeError(`unknown gold table(s): ${unknown.join(", ")}`);

  const catalogue = opts.catalogue ?? builtinCatalogue();
  const db = opts.session
    ? await opts.session.acquire(silverPath, catalogue)
    : await oneOffConnection(silverPath, catalogue, opts);
  const results: GoldTableResult[] = [];
  let failed = true;
  try {
    const r = new Refresh(
      db.conn,
      lakehouse,
      silver,
      defs.some((d) => d.kind === "alarms"),
      opts.readingsCache,
    );
    const path = opts.alarmsFirst ? await alarmPath(r, defs) : new Set<string>();
    if (opts.alarmsFirst) {
      const first = (d: GoldTableDef) => path.has(d.name);
      defs = [...defs.filter(first), ...defs.filter((d) => !first(d))];
    }
    for (const def of defs) {
      if (!path.has(def.name) && await opts.defer?.(def.name)) {
        opts.log?.(`${def.name}: deferred (a newer silver version is pending)`);
        continue;
      }
      const t0 = performance.now();
      const gold = await ensureGoldTable(lakehouse, def);
      const appId = goldTxnAppId(def.name);
      const seen = gold.txnVersion(appId);
      const base = {
        table: def.name,
        silverVersion: silver.version,
      };
      if (!opts.full && seen === silver.version) {
        results.push({
          ...base,
          mode: "unchanged",
          rows: rowCount(gold.files),
          written: 0,
          version: gold.version,
          scope: "",
          seconds: (performance.now() - t0) / 1000,
          newestReadingMs: null,
        });
        opts.onTable?.(results.at(-1)!);
        opts.log?.(`${def.name}: unchanged (silver v${silver.version})`);
        continue;
      }
      const change = opts.full || seen === undefined || seen > silver.version
        ? null
        : await r.change(seen);
      if (def.kind === "alarms") await r.dropHelpers();
      const refresh = def.kind === "windowed"
        ? refreshWindowed
        : def.kind === "health"
        ? refreshHealth
        : def.kind === "incidents"
        ? refreshIncidents
        : refreshAlarms;
      const { actions, written, scope } = await refresh(r, def, gold, change);
      const mode = change === null || change.ranges === null ? "full" : "incremental";
      const { version } = await commit(gold.path, actions, {
        readVersion: gold.version,
        operation: "GOLD REFRESH",
        operationParameters: { mode, silverVersion: silver.version, scope },
        txns: [{ appId, version: silver.version }],
      });
      const removed = new Set(
        actions.flatMap((a) => "remove" in a ? [decodeAddPath(a.remove.path)] : []),
      );
      const rows = rowCount(gold.files.filter((f) => !removed.has(decodeAddPath(f.path)))) +
        rowCount(actions.flatMap((a) => "add" in a ? [a.add] : []));
      const seconds = (performance.now() - t0) / 1000;
      const newestReadingMs = change?.ranges?.length
        ? Math.max(...change.ranges.map((x) => x[1]))
        : null;
      results.push({ ...base, mode, rows, written, version, scope, seconds, newestReadingMs });
      opts.onTable?.(results.at(-1)!);
      opts.log?.(
        `${def.name}: ${mode} (${scope}) → v${version}, ${rows} rows, ${seconds.toFixed(2)} s`,
      );
    }
    failed = false;
  } finally {
    await db.release(failed);
    await releaseStagingDirectories(defs.map((d) => goldTablePath(lakehouse, d.name)));
  }
  return results;
}
