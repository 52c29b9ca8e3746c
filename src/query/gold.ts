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
 * - `daily` tables (partitioned by `day`) recompute exactly the UTC days those ranges cover,
 *   from the silver files overlapping them, and replace those days' files in one commit;
 * - `device_health` is rebuilt from the last hour of silver plus the previous rows;
 * - `alarms` are recomputed from a lookback before the first changed reading (far enough back
 *   to include every episode the new data could extend, merge or end), keeping older episodes.
 * Compactions (dataChange=false) change nothing. No silver change → no gold commit at all, so
 * running twice is a no-op. `full` recomputes everything from all of silver.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { join } from "node:path";
import {
  type Action,
  type AddAction,
  isRemove,
  mayHoldTime,
  parseStats,
  timeRange,
} from "../delta/actions.ts";
import { commit } from "../delta/commit.ts";
import { TableNotFoundError } from "../delta/errors.ts";
import { readCommit } from "../delta/log.ts";
import { decodeAddPath } from "../delta/partition.ts";
import { loadSnapshot, type Snapshot } from "../delta/snapshot.ts";
import { createTable, releaseStagingDirectories, writeDataFiles } from "../delta/table.ts";
import { type DuckDB, openDuckDB, sqlIdent, sqlString } from "../duckdb/engine.ts";
import { GOLD_TABLES, type GoldTableDef, goldTablePath, goldTxnAppId } from "./gold_tables.ts";
import { loadSql, placeholders, readSqlFile, splitStatements, SQL_DIR } from "./sql_files.ts";
import { snapshotScanSql } from "./views.ts";

export { GOLD_TABLES, goldTablePath, goldTxnAppId } from "./gold_tables.ts";
export type { GoldKind, GoldTableDef } from "./gold_tables.ts";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/**
 * Alarms: an existing episode is recomputed when it is open or ended less than this before the
 * first changed reading — longer than any hold time, so a new violation can still merge with it.
 */
const ALARM_AFFECTED_MS = 2 * HOUR_MS;
/**
 * Alarms: silver is read from this long before the first recomputed episode, so trailing-hour
 * statistics (z-score median/MAD, the silent rule's usual interval) have their full history.
 */
const ALARM_CONTEXT_MS = 2 * HOUR_MS;

/**
 * The silver columns gold SQL reads. Scopes carry only these: `source`, `unit` and
 * `ingest_time` (a unique string per reading) would cost more to copy than all of gold.
 */
const SCOPE_COLUMNS = "timestamp, device_id, building, floor, type, value";

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
  /** UTC days recomputed (daily tables), or the recompute start (alarms), for logs. */
  scope: string;
  seconds: number;
}

/** Rows in a set of files by their stats. */
function rowCount(files: AddAction[]): number {
  return files.reduce((n, f) => n + (parseStats(f)?.numRecords ?? 0), 0);
}

/** What changed in silver between the version a gold table saw and now. */
interface SilverChange {
  /** Changed files' time ranges; null means "unknown, rebuild fully". */
  ranges: [number, number][] | null;
  /** Files added with dataChange since then. */
  added: AddAction[];
  /** True when rows were removed (not compaction): derived tables cannot just be topped up. */
  removedData: boolean;
}

async function silverChange(silver: Snapshot, since: number): Promise<SilverChange> {
  let old: Snapshot;
  // Whether a removal changed data is said by the commit that made it: a checkpoint's tombstones
  // all carry dataChange=false, whatever removed them.
  const removedChanges = new Map<string, boolean>();
  try {
    old = await loadSnapshot(silver.path, { version: since, tombstones: false });
    const versions = Array.from({ length: silver.version - since }, (_, i) => since + 1 + i);
    for (let i = 0; i < versions.length; i += 64) {
      const commits = await Promise.all(
        versions.slice(i, i + 64).map((v) => readCommit(silver.path, v)),
      );
      for (const a of commits.flat()) {
        if (isRemove(a)) {
          removedChanges.set(decodeAddPath(a.remove.path), a.remove.dataChange ?? true);
        }
      }
    }
  } catch {
    return { ranges: null, added: [], removedData: true };
  }
  const before = new Map(old.files.map((f) => [decodeAddPath(f.path), f]));
  const now = new Set(silver.files.map((f) => decodeAddPath(f.path)));
  const added = silver.files.filter((f) => !before.has(decodeAddPath(f.path)) && f.dataChange);
  const removed = [...before.entries()].filter(([p]) =>
    !now.has(p) && (removedChanges.get(p) ?? true)
  ).map(([, f]) => f);
  const ranges: [number, number][] = [];
  for (const f of [...added, ...removed]) {
    const r = timeRange(f);
    if (!r) return { ranges: null, added, removedData: true };
    ranges.push(r);
  }
  return { ranges, added, removedData: removed.length > 0 };
}

function dayString(ms: number): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

/** A half-open time interval [from, to), in ms. */
type Interval = [number, number];

/**
 * The whole `unit`s (hours or days, aligned on 1970-01-01 UTC) that the ranges touch, as
 * sorted, merged half-open intervals.
 */
function touchedUnits(ranges: [number, number][], unit: number): Interval[] {
  const units: Interval[] = ranges
    .map(([lo, hi]): Interval => [
      Math.floor(lo / unit) * unit,
      (Math.floor(hi / unit) + 1) * unit,
    ])
    .sort((a, b) => a[0] - b[0]);
  const merged: Interval[] = [];
  for (const u of units) {
    const last = merged.at(-1);
    if (last && u[0] <= last[1]) last[1] = Math.max(last[1], u[1]);
    else merged.push([...u]);
  }
  return merged;
}

/** UTC days (YYYY-MM-DD) the intervals cover. */
function daysOf(intervals: Interval[]): Set<string> {
  const days = new Set<string>();
  for (const [from, to] of intervals) {
    for (let d = Math.floor(from / DAY_MS) * DAY_MS; d < to; d += DAY_MS) days.add(dayString(d));
  }
  return days;
}

/** SQL: `column` falls in one of the intervals. */
function inIntervalsSql(column: string, intervals: Interval[]): string {
  return "(" +
    intervals.map(([from, to]) =>
      `(${column} >= ${tsLiteral(from)} AND ${column} < ${tsLiteral(to)})`
    ).join(" OR ") + ")";
}

/** Human summary of recomputed intervals, for logs and results. */
function describeIntervals(intervals: Interval[], unit: number): string {
  const n = intervals.reduce((k, [from, to]) => k + (to - from) / unit, 0);
  const first = new Date(intervals[0][0]).toISOString();
  const last = new Date(intervals.at(-1)![1]).toISOString();
  const what = unit === DAY_MS ? "day(s)" : "hour(s)";
  return `${n} ${what} in [${first.slice(0, unit === DAY_MS ? 10 : 16)}, ${
    last.slice(0, unit === DAY_MS ? 10 : 16)
  })`;
}

function tsLiteral(ms: number): string {
  return `'${new Date(ms).toISOString()}'::TIMESTAMPTZ`;
}

function removeAction(add: AddAction, now: number): Action {
  return {
    remove: {
      path: add.path,
      deletionTimestamp: now,
      dataChange: true,
      extendedFileMetadata: true,
      partitionValues: add.partitionValues,
      size: add.size,
    },
  };
}

async function one(conn: DuckDBConnection, sql: string): Promise<unknown> {
  return (await conn.runAndReadAll(sql)).getRows()[0]?.[0];
}

/** Runs every statement of a SQL text. */
async function runScript(conn: DuckDBConnection, sql: string): Promise<void> {
  for (const stmt of splitStatements(sql)) await conn.run(stmt);
}

/** Alarm rule files: every sql/alarms/*.sql except thresholds.sql and `_` helpers. */
export async function alarmRuleFiles(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(SQL_DIR, "alarms"))) {
    if (
      e.isFile && e.name.endsWith(".sql") && !e.name.startsWith("_") && e.name !== "thresholds.sql"
    ) {
      out.push(`alarms/${e.name}`);
    }
  }
  return out.sort();
}

/** Which silver rows a scope holds: those in the intervals, of these types if given. */
interface ScopeSelection {
  intervals: Interval[];
  /** Only these types' partitions: a narrow scope for one table, read in place (not copied). */
  types?: string[];
}

/** A refresh in progress: the DuckDB session, silver's snapshot and per-version diffs. */
class Refresh {
  #changes = new Map<number, Promise<SilverChange>>();
  #scopes = new Map<string, string>();
  /** Scope key → its device-minutes temp table (helpers, dropped before the alarms). */
  #minutes = new Map<string, string>();
  #allReadings = false;
  #enums = 0;
  constructor(
    readonly conn: DuckDBConnection,
    readonly lakehouse: string,
    readonly silver: Snapshot,
    /** The alarms are refreshed too: the all-of-silver scope carries their readings' neighbours. */
    readonly withAlarmReadings: boolean,
  ) {}

  change(since: number): Promise<SilverChange> {
    let c = this.#changes.get(since);
    if (!c) {
      c = silverChange(this.silver, since);
      this.#changes.set(since, c);
    }
    return c;
  }

  /**
   * The silver rows of a selection (all of silver when `sel` is null), materialised once as a
   * temp table shared by the tables that need the same rows; returns a relation with the
   * SCOPE_COLUMNS. All of silver is materialised as alarm_readings (sql/alarms/_readings.sql)
   * when the alarms are refreshed too: one sort of silver serves both, and the windowed tables
   * read the same rows through a projection.
   */
  async scope(sel: ScopeSelection | null): Promise<string> {
    const key = JSON.stringify(sel);
    const hit = this.#scopes.get(key);
    if (hit) return hit;
    let name = `gold_scope_${this.#scopes.size}`;
    let relation = name;
    if (sel === null && this.withAlarmReadings) {
      // Named as the alarm rules expect: a view of that name makes DuckDB plan them worse.
      name = "alarm_readings";
      await this.conn.run(
        `CREATE OR REPLACE TEMP TABLE ${name} AS ${await loadSql("alarms/_readings.sql", {
          silver: await this.keyedAsEnums(snapshotScanSql(this.silver), this.silver.files),
        })}`,
      );
      this.#allReadings = true;
      relation = `(SELECT ts AS timestamp, device_id, building, floor, type, value FROM ${name})`;
    } else {
      let files = this.silver.files;
      let where = "";
      if (sel !== null) {
        const types = sel.types && new Set(sel.types);
        files = files.filter((f) =>
          (!types || types.has(String(f.partitionValues.type))) &&
          sel.intervals.some(([from, to]) => mayHoldTime(f, from, to))
        );
        where = ` WHERE ${inIntervalsSql("timestamp", sel.intervals)}`;
      }
      if (sel?.types) {
        // A narrow scope serves one table: read in place, only the columns its SQL uses.
        relation = `(SELECT ${SCOPE_COLUMNS} FROM (${
          snapshotScanSql(this.silver, files)
        })${where})`;
        this.#scopes.set(key, relation);
        return relation;
      }
      await this.conn.run(
        `CREATE OR REPLACE TEMP TABLE ${name} AS SELECT ${SCOPE_COLUMNS} FROM (${
          snapshotScanSql(this.silver, files)
        })${where}`,
      );
    }
    this.#scopes.set(key, relation);
    return relation;
  }

  /**
   * `scan` (rows of silver `files`) with device_id, building and type as ENUMs, in the
   * strings' order. Every statement over alarm readings groups, sorts or joins on them: as
   * 1-byte codes instead of strings that saves a quarter of a full refresh (outputs are cast back
   * to strings by the writer, and an ENUM compares with a string as a string would). Building
   * and type values come from the files' partition values; device ids take one pass over that
   * column.
   */
  async keyedAsEnums(scan: string, files: AddAction[]): Promise<string> {
    const parts = (column: string) =>
      [...new Set(files.map((f) => f.partitionValues[column]))]
        .filter((v): v is string => typeof v === "string").sort();
    const buildings = parts("building"), types = parts("type");
    if (files.length === 0 || buildings.length === 0 || types.length === 0) return `(${scan})`;
    const n = this.#enums++;
    const list = (values: string[]) => values.map(sqlString).join(", ");
    await this.conn.run(`CREATE TYPE gold_building_${n} AS ENUM (${list(buildings)})`);
    await this.conn.run(`CREATE TYPE gold_type_${n} AS ENUM (${list(types)})`);
    await this.conn.run(
      `CREATE TYPE gold_device_${n} AS ENUM (
         SELECT DISTINCT device_id FROM (${scan}) WHERE device_id IS NOT NULL ORDER BY 1)`,
    );
    return `(SELECT timestamp, device_id::gold_device_${n} AS device_id,
      building::gold_building_${n} AS building, floor, type::gold_type_${n} AS type, value
      FROM (${scan}))`;
  }

  /** Makes sure temp table alarm_readings holds the alarm readings of all of silver. */
  async allAlarmReadings(): Promise<void> {
    await this.scope(null);
    if (!this.#allReadings) throw new Error("Refresh: alarm readings were not materialised");
  }

  /**
   * sql/gold/_device_minutes.sql over scope(sel): per device and minute, what every windowed
   * table rolls up. Materialised once per scope, shared by all of them.
   */
  async deviceMinutes(sel: ScopeSelection | null): Promise<string> {
    const key = JSON.stringify(sel);
    let name = this.#minutes.get(key);
    if (!name) {
      const scope = await this.scope(sel);
      name = `gold_device_minutes_${this.#minutes.size}`;
      await this.conn.run(
        `CREATE OR REPLACE TEMP TABLE ${name} AS ${await loadSql("gold/_device_minutes.sql", {
          silver: scope,
        })}`,
      );
      this.#minutes.set(key, name);
    }
    return name;
  }

  /** The device-minutes of all of silver if already materialised, else undefined. */
  existingDeviceMinutes(): string | undefined {
    return this.#minutes.get(JSON.stringify(null));
  }

  /** Drops the helper tables (once the windowed tables are done, to free their memory). */
  async dropHelpers(): Promise<void> {
    for (const name of this.#minutes.values()) {
      await this.conn.run(`DROP TABLE IF EXISTS ${name}`);
    }
    this.#minutes.clear();
  }
}

async function refreshDaily(
  r: Refresh,
  def: GoldTableDef,
  gold: Snapshot,
  change: SilverChange | null,
): Promise<{ actions: Action[]; written: number; scope: string }> {
  const full = change === null || change.ranges === null;
  const unit = def.recompute === "hour" ? HOUR_MS : DAY_MS;
  const intervals = full ? null : touchedUnits(change!.ranges!, unit);
  if (intervals !== null && intervals.length === 0) {
    return { actions: [], written: 0, scope: "no new rows" };
  }
  // Whole days read only the types they use; hours share one scope between all tables.
  const sel = intervals && {
    intervals,
    ...(unit === DAY_MS && def.types ? { types: def.types } : {}),
  };
  const out = `gold_out_${def.name}`;
  const inputs = placeholders(await readSqlFile(def.sqlFile));
  const values: Record<string, string> = {};
  if (inputs.has("silver")) values.silver = await r.scope(sel);
  if (inputs.has("device_minutes")) values.device_minutes = await r.deviceMinutes(sel);
  await r.conn.run(
    `CREATE OR REPLACE TEMP TABLE ${out} AS ${await loadSql(def.sqlFile, values)}`,
  );
  const written = Number(await one(r.conn, `SELECT count(*) FROM ${out}`));
  const days = intervals && daysOf(intervals);
  const removes = days === null
    ? gold.files
    : gold.files.filter((f) => days.has(String(f.partitionValues.day)));
  // A day partly recomputed keeps its other hours' rows: its files are rewritten whole.
  const kept = unit === HOUR_MS && intervals && removes.length > 0
    ? `SELECT * FROM (${snapshotScanSql(gold, removes)}) WHERE NOT ${
      inIntervalsSql(sqlIdent(def.windowColumn ?? "window_start"), intervals)
    } UNION ALL BY NAME `
    : "";
  const adds = await writeDataFiles(r.conn, gold, `${kept}SELECT * FROM ${out}`);
  await r.conn.run(`DROP TABLE ${out}`);
  const now = Date.now();
  return {
    actions: [...removes.map((f) => removeAction(f, now)), ...adds.map((add) => ({ add }))],
    written,
    scope: intervals === null ? "all days" : describeIntervals(intervals, unit),
  };
}

async function refreshHealth(
  r: Refresh,
  def: GoldTableDef,
  gold: Snapshot,
  change: SilverChange | null,
): Promise<{ actions: Action[]; written: number; scope: string }> {
  const full = change === null || change.ranges === null || change.removedData;
  const silver = r.silver;
  // Each building's newest reading, from file stats: only the last hour before it is needed.
  const newest = new Map<string, number>();
  for (const f of silver.files) {
    const range = timeRange(f);
    const b = String(f.partitionValues.building);
    if (range) newest.set(b, Math.max(newest.get(b) ?? -Infinity, range[1]));
  }
  const from = newest.size ? Math.min(...newest.values()) - HOUR_MS - 1000 : -Infinity;
  const recentFiles = Number.isFinite(from)
    ? silver.files.filter((f) => mayHoldTime(f, from))
    : silver.files;
  const recent = `(SELECT * FROM (${snapshotScanSql(silver, recentFiles)})${
    Number.isFinite(from) ? ` WHERE timestamp >= ${tsLiteral(from)}` : ""
  })`;
  const minutes = full ? r.existingDeviceMinutes() : undefined;
  const newRows = minutes
    ? `(SELECT last_ts AS timestamp, device_id, building, floor, type FROM ${minutes})`
    : full
    ? `(SELECT * FROM ${await r.scope(null)})`
    : `(${snapshotScanSql(silver, change!.added)})`;
  const previous = full ? `(${snapshotScanSql(gold, [])})` : `(${snapshotScanSql(gold)})`;
  const out = `gold_out_${def.name}`;
  await r.conn.run(`CREATE OR REPLACE TEMP TABLE gold_prev_health AS SELECT * FROM ${previous}`);
  await r.conn.run(
    `CREATE OR REPLACE TEMP TABLE ${out} AS ${await loadSql(def.sqlFile, {
      recent,
      new_rows: newRows,
      previous: "gold_prev_health",
    })}`,
  );
  const written = Number(await one(r.conn, `SELECT count(*) FROM ${out}`));
  const adds = await writeDataFiles(r.conn, gold, `SELECT * FROM ${out}`);
  await r.conn.run(`DROP TABLE ${out}`);
  const now = Date.now();
  return {
    actions: [...gold.files.map((f) => removeAction(f, now)), ...adds.map((add) => ({ add }))],
    written,
    scope: full ? "all silver" : `last hour + ${change!.added.length} new file(s)`,
  };
}

/** Where computeAlarms reads readings from. */
export type AlarmInput =
  /** Silver rows (SCOPE_COLUMNS or more): their alarm readings are computed here. */
  | { silverSql: string }
  /** Temp table alarm_readings already holds sql/alarms/_readings.sql over the rows to use. */
  | { existing: true };

/**
 * Computes alarm episodes into temp table `out`: shared input tables (alarm_readings and
 * sql/alarms/_context.sql), every rule's violations, then episodes (sql/alarms/_episodes.sql).
 */
export async function computeAlarms(
  conn: DuckDBConnection,
  input: AlarmInput,
  energyHourlySql: string,
  out: string,
): Promise<void> {
  await runScript(conn, await loadSql("gold/_macros.sql"));
  await createAlarmReadings(conn, input);
  await runScript(conn, await loadSql("alarms/_context.sql"));
  const rules = await alarmRuleFiles();
  const parts: string[] = [];
  for (const file of rules) {
    const text = await readSqlFile(file);
    const values: Record<string, string> = {};
    if (placeholders(text).has("energy_hourly")) values.energy_hourly = `(${energyHourlySql})`;
    const name = `alarm_v_${file.replace(/^alarms\//, "").replace(/\.sql$/, "")}`;
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE ${sqlIdent(name)} AS ${await loadSql(file, values)}`,
    );
    parts.push(
      `SELECT rule, subject, device_id, building, floor, type, ts, clear_ts, level, value, score, threshold FROM ${
        sqlIdent(name)
      }`,
    );
  }
  await conn.run(`CREATE OR REPLACE TEMP VIEW alarm_violations AS ${parts.join(" UNION ALL ")}`);
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE ${sqlIdent(out)} AS ${await loadSql("alarms/_episodes.sql", {
      violations: "alarm_violations",
    })}`,
  );
  for (const file of rules) {
    const name = `alarm_v_${file.replace(/^alarms\//, "").replace(/\.sql$/, "")}`;
    await conn.run(`DROP TABLE IF EXISTS ${sqlIdent(name)}`);
  }
  if ("silverSql" in input) await conn.run("DROP TABLE IF EXISTS alarm_readings");
}

/** Materialises temp table `alarm_readings` (sql/alarms/_readings.sql), unless it exists. */
export async function createAlarmReadings(
  conn: DuckDBConnection,
  input: AlarmInput,
): Promise<void> {
  if (!("silverSql" in input)) return;
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE alarm_readings AS ${await loadSql("alarms/_readings.sql", {
      silver: `(${input.silverSql})`,
    })}`,
  );
}

async function refreshAlarms(
  r: Refresh,
  def: GoldTableDef,
  gold: Snapshot,
  change: SilverChange | null,
): Promise<{ actions: Action[]; written: number; scope: string }> {
  const silver = r.silver;
  const energyHourly = await loadSnapshot(goldTablePath(r.lakehouse, "energy_hourly"), {
    tombstones: false,
  });
  const full = change === null || change.ranges === null;
  let recomputeFrom = -Infinity;
  if (!full) {
    const ranges = change!.ranges!;
    if (ranges.length === 0) return { actions: [], written: 0, scope: "no new rows" };
    const touched = Math.min(...ranges.map((x) => x[0]));
    recomputeFrom = touched;
    // Episodes the new data can still extend, merge with or end start no later than this.
    const affected = await one(
      r.conn,
      `SELECT epoch_ms(min(started_at)) FROM (${snapshotScanSql(gold)})
       WHERE ended_at IS NULL OR ended_at >= ${tsLiteral(touched - ALARM_AFFECTED_MS)}`,
    );
    if (affected !== null && affected !== undefined) {
      recomputeFrom = Math.min(recomputeFrom, Number(affected));
    }
  }
  const scanFrom = recomputeFrom - ALARM_CONTEXT_MS;
  const files = full ? silver.files : silver.files.filter((f) => mayHoldTime(f, scanFrom));
  if (full) await r.allAlarmReadings();
  const input: AlarmInput = full ? { existing: true } : {
    silverSql: `SELECT * FROM ${await r.keyedAsEnums(
      `SELECT ${SCOPE_COLUMNS} FROM (${snapshotScanSql(silver, files)}) WHERE timestamp >= ${
        tsLiteral(scanFrom)
      }`,
      files,
    )}`,
  };
  await computeAlarms(r.conn, input, snapshotScanSql(energyHourly), "gold_alarms_new");
  const out = `gold_out_${def.name}`;
  const cols = def.schema.fields.map((f) => sqlIdent(f.name)).join(", ");
  if (full) {
    await r.conn.run(
      `CREATE OR REPLACE TEMP TABLE ${out} AS SELECT ${cols} FROM gold_alarms_new`,
    );
  } else {
    const from = tsLiteral(recomputeFrom);
    await r.conn.run(
      `CREATE OR REPLACE TEMP TABLE ${out} AS
       SELECT ${cols} FROM (${snapshotScanSql(gold)}) WHERE started_at < ${from}
       UNION ALL
       SELECT ${cols} FROM gold_alarms_new WHERE started_at >= ${from}`,
    );
  }
  const written = Number(await one(r.conn, `SELECT count(*) FROM ${out}`));
  const adds = await writeDataFiles(
    r.conn,
    gold,
    `SELECT * FROM ${out} ORDER BY started_at, alarm_id`,
  );
  await r.conn.run(`DROP TABLE ${out}`);
  await r.conn.run(`DROP TABLE gold_alarms_new`);
  const now = Date.now();
  return {
    actions: [...gold.files.map((f) => removeAction(f, now)), ...adds.map((add) => ({ add }))],
    written,
    scope: full ? "all silver" : `episodes from ${new Date(recomputeFrom).toISOString()}`,
  };
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
  const silverPath = join(lakehouse, "silver");
  let silver: Snapshot;
  try {
    silver = await loadSnapshot(silverPath, { tombstones: false });
  } catch (err) {
    if (err instanceof TableNotFoundError) throw new NoSilverError(silverPath);
    throw err;
  }
  const defs = opts.tables
    ? GOLD_TABLES.filter((d) => opts.tables!.includes(d.name))
    : [...GOLD_TABLES];
  const unknown = (opts.tables ?? []).filter((t) => !GOLD_TABLES.some((d) => d.name === t));
  if (unknown.length) throw new RangeError(`unknown gold table(s): ${unknown.join(", ")}`);

  const db: DuckDB = await openDuckDB({
    delta: false,
    threads: opts.threads,
    memoryLimit: opts.memoryLimit,
  });
  const results: GoldTableResult[] = [];
  try {
    await db.conn.run("SET preserve_insertion_order = false");
    await runScript(db.conn, await loadSql("gold/_macros.sql"));
    await runScript(db.conn, await loadSql("alarms/thresholds.sql"));
    const r = new Refresh(db.conn, lakehouse, silver, defs.some((d) => d.kind === "alarms"));
    for (const def of defs) {
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
        });
        opts.log?.(`${def.name}: unchanged (silver v${silver.version})`);
        continue;
      }
      const change = opts.full || seen === undefined || seen > silver.version
        ? null
        : await r.change(seen);
      if (def.kind === "alarms") await r.dropHelpers();
      const refresh = def.kind === "daily"
        ? refreshDaily
        : def.kind === "health"
        ? refreshHealth
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
      results.push({ ...base, mode, rows, written, version, scope, seconds });
      opts.log?.(
        `${def.name}: ${mode} (${scope}) → v${version}, ${rows} rows, ${seconds.toFixed(2)} s`,
      );
    }
  } finally {
    db.close();
    await releaseStagingDirectories(defs.map((d) => goldTablePath(lakehouse, d.name)));
  }
  return results;
}
