/**
 * A refresh's DuckDB session: silver's snapshot, its diffs per gold version (computed once),
 * and the silver scopes and device-minutes the tables read, each materialised once as a temp
 * table and shared by every table that needs the same rows.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { type Action, type AddAction, mayHoldTime, removeAction } from "../delta/actions.ts";
import type { Snapshot } from "../delta/snapshot.ts";
import { writeDataFiles } from "../delta/table.ts";
import { sqlString } from "../duckdb/engine.ts";
import { loadSql } from "../query/sql_files.ts";
import { snapshotScanSql } from "../delta/scan.ts";
import { type SilverChange, silverChange } from "./changes.ts";
import { inIntervalsSql, type Interval } from "./intervals.ts";
import type { ReadingsCache } from "./readings_cache.ts";

/**
 * The silver columns gold SQL reads. Scopes carry only these: `source`, `unit` and
 * `ingest_time` (a unique string per reading) would cost more to copy than all of gold.
 */
export const SCOPE_COLUMNS = "timestamp, device_id, building, floor, type, value";

/** What one table's refresh strategy returns: the actions of its commit and what it did. */
export interface TableRefresh {
  actions: Action[];
  /** Rows written. */
  written: number;
  /** What was recomputed, for logs and results. */
  scope: string;
}

export async function one(conn: DuckDBConnection, sql: string): Promise<unknown> {
  return (await conn.runAndReadAll(sql)).getRows()[0]?.[0];
}

/**
 * Rewrites a whole unpartitioned gold table with the rows of temp table `out` (dropped after),
 * sorted by `orderBy`: its actions remove every current file and add the new ones.
 */
export async function rewriteWhole(
  conn: DuckDBConnection,
  gold: Snapshot,
  out: string,
  orderBy: string,
  scope: string,
): Promise<TableRefresh> {
  const written = Number(await one(conn, `SELECT count(*) FROM ${out}`));
  const adds = await writeDataFiles(conn, gold, `SELECT * FROM ${out} ORDER BY ${orderBy}`);
  await conn.run(`DROP TABLE ${out}`);
  const now = Date.now();
  return {
    actions: [
      ...gold.files.map((f) => removeAction(f, true, now)),
      ...adds.map((add) => ({ add })),
    ],
    written,
    scope,
  };
}

/** Which silver rows a scope holds: those in the intervals, of these types if given. */
export interface ScopeSelection {
  intervals: Interval[];
  /** Only these types' partitions: a narrow scope for one table, read in place (not copied). */
  types?: string[];
}

/** A refresh in progress: the DuckDB session, silver's snapshot and per-version diffs. */
export class Refresh {
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
    /** gold --watch's cache of recent silver rows for the alarms (readings_cache.ts). */
    readonly cache?: ReadingsCache,
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
   * read the same rows through a projection. A selection the readings cache holds (gold
   * --watch) and a narrow one are read in place instead of copied.
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
      // gold --watch: hours within the readings cache are read from it, not from silver's files,
      // and in place: the device-minutes read them once, and a copy of the current hour's rows
      // was most of gold's memory at fleet scale (18M rows an hour at 5k msg/s; issue 28).
      const cached = sel && this.cache?.rowsSince(
        this.conn,
        this.silver.version,
        Math.min(...sel.intervals.map((i) => i[0])),
      );
      if (cached) {
        relation = `(SELECT ${SCOPE_COLUMNS} FROM ${cached}${where})`;
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
   * column, unless `devices` is given: a relation (column device_id) holding at least every
   * device id of the scan (an ENUM with extra values orders and compares the same).
   */
  async keyedAsEnums(scan: string, files: AddAction[], devices?: string): Promise<string> {
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
         SELECT DISTINCT device_id FROM ${devices ?? `(${scan})`} WHERE device_id IS NOT NULL
         ORDER BY 1)`,
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
