/**
 * Windowed tables (partitioned by `day`): an incremental refresh recomputes the whole hours
 * (`recompute: "hour"`) or days (`recompute: "day"`) that changed silver files touch, from the
 * silver rows in them, and rewrites the days holding them in one commit; a day only partly
 * recomputed keeps its other hours' rows.
 */
import { removeAction } from "../delta/actions.ts";
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

export async function refreshWindowed(
  r: Refresh,
  def: GoldTableDef,
  gold: Snapshot,
  change: SilverChange | null,
): Promise<TableRefresh> {
  const full = change === null || change.ranges === null;
  const unit = def.recompute === "hour" ? HOUR_MS : DAY_MS;
  const intervals = full ? null : touchedUnits(change!.ranges!, unit);
  if (intervals !== null && intervals.length === 0) {
    return { actions: [], written: 0, scope: "no new rows" };
  }
  // Whole days read only the types they use; hours share one scope between all tables.
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
    actions: [...removes.map((f) => removeAction(f, true, now)), ...adds.map((add) => ({ add }))],
    written,
    scope: intervals === null ? "all days" : describeIntervals(intervals, unit),
  };
}
