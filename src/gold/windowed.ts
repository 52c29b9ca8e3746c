/**
 * Windowed tables (partitioned by `day`): an incremental refresh recomputes the whole minutes
 * (`recompute: "minute"`), hours (`recompute: "hour"`) or days (`recompute: "day"`) that changed
 * silver files touch, from the silver rows in them, and replaces them in one commit.
 *
 * File layout of minute and hour tables: each data file holds the windows of one UTC hour. A
 * refresh removes the files that may hold a recomputed window (by their window column's stats)
 * and writes their other windows back beside the recomputed ones, one file per hour: what it
 * rewrites is at most the hours it touches, never the rest of the day (issue 28: `gold --watch`
 * refreshes every few seconds, and rewriting a day of readings_1m grew with the day). Days
 * (`recompute: "day"`) rewrite the days they touch.
 */
import { mayHoldTime, removeAction } from "../delta/actions.ts";
import type { Snapshot } from "../delta/snapshot.ts";
import { writeDataFiles } from "../delta/table.ts";
import { sqlIdent } from "../duckdb/engine.ts";
import { loadSql, placeholders, readSqlFile } from "../query/sql_files.ts";
import { snapshotScanSql } from "../delta/scan.ts";
import type { SilverChange } from "./changes.ts";
import {
  DAY_MS,
  daysOf,
  describeIntervals,
  HOUR_MS,
  inIntervalsSql,
  type Interval,
  MINUTE_MS,
  touchedUnits,
} from "./intervals.ts";
import { one, type Refresh, type TableRefresh } from "./scope.ts";
import type { GoldTableDef } from "./tables.ts";

/** The types a catalogue view (sql/catalogue/tables.sql) lists. */
async function typesOf(r: Refresh, view: string): Promise<string[]> {
  const rows = (await r.conn.runAndReadAll(`SELECT type FROM ${sqlIdent(view)} ORDER BY 1`))
    .getRows();
  return rows.map((row) => String(row[0]));
}

const UNIT_MS = { minute: MINUTE_MS, hour: HOUR_MS, day: DAY_MS } as const;

export async function refreshWindowed(
  r: Refresh,
  def: GoldTableDef,
  gold: Snapshot,
  change: SilverChange | null,
): Promise<TableRefresh> {
  const full = change === null || change.ranges === null;
  const unit = UNIT_MS[def.recompute ?? "day"];
  const intervals = full ? null : touchedUnits(change!.ranges!, unit);
  if (intervals !== null && intervals.length === 0) {
    return { actions: [], written: 0, scope: "no new rows" };
  }
  // Whole days read only the types they use; minutes and hours share scopes between tables.
  const sel = intervals && {
    intervals,
    ...(unit === DAY_MS && def.typesFrom ? { types: await typesOf(r, def.typesFrom) } : {}),
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
  const { removes, adds } = intervals === null || unit === DAY_MS
    ? await replaceDays(r, gold, out, intervals)
    : await replaceHours(r, def, gold, out, intervals);
  await r.conn.run(`DROP TABLE ${out}`);
  const now = Date.now();
  return {
    actions: [...removes.map((f) => removeAction(f, true, now)), ...adds.map((add) => ({ add }))],
    written,
    scope: intervals === null ? "all days" : describeIntervals(intervals, unit),
  };
}

/** All of the table (`intervals` null) or the days the intervals touch, replaced by `out`. */
async function replaceDays(
  r: Refresh,
  gold: Snapshot,
  out: string,
  intervals: Interval[] | null,
) {
  const days = intervals && daysOf(intervals);
  const removes = days === null
    ? gold.files
    : gold.files.filter((f) => days.has(String(f.partitionValues.day)));
  return { removes, adds: await writeDataFiles(r.conn, gold, `SELECT * FROM ${out}`) };
}

/**
 * The recomputed minutes or hours replaced by `out`: the files that may hold one of them are
 * removed, and their other windows written back with `out`, one file per UTC hour.
 */
async function replaceHours(
  r: Refresh,
  def: GoldTableDef,
  gold: Snapshot,
  out: string,
  intervals: Interval[],
) {
  const column = def.windowColumn ?? "window_start";
  const days = daysOf(intervals);
  const removes = gold.files.filter((f) =>
    days.has(String(f.partitionValues.day)) &&
    intervals.some(([from, to]) => mayHoldTime(f, from, to - 1, column))
  );
  const rows = `gold_rows_${def.name}`;
  const kept = removes.length > 0
    ? `SELECT * FROM (${snapshotScanSql(gold, removes)}) WHERE NOT ${
      inIntervalsSql(sqlIdent(column), intervals)
    } UNION ALL BY NAME `
    : "";
  await r.conn.run(
    `CREATE OR REPLACE TEMP TABLE ${rows} AS SELECT *, epoch_us(${sqlIdent(column)}) // ${
      HOUR_MS * 1000
    } AS gold_hour FROM (${kept}SELECT * FROM ${out})`,
  );
  const hours = (await r.conn.runAndReadAll(`SELECT DISTINCT gold_hour FROM ${rows} ORDER BY 1`))
    .getRows().map((row) => Number(row[0]));
  const adds = [];
  for (const hour of hours) {
    adds.push(
      ...await writeDataFiles(
        r.conn,
        gold,
        `SELECT * EXCLUDE (gold_hour) FROM ${rows} WHERE gold_hour = ${hour}`,
      ),
    );
  }
  await r.conn.run(`DROP TABLE ${rows}`);
  return { removes, adds };
}
