/**
 * Alarm episodes (sql/alarms/*.sql): every rule's violations over the alarm readings, merged
 * into episodes. An incremental refresh recomputes from a lookback before the first changed
 * reading (far enough back to include every episode the new data could extend, merge or end)
 * and keeps the older episodes.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { join } from "node:path";
import { mayHoldTime } from "../delta/actions.ts";
import { loadSnapshot, type Snapshot } from "../delta/snapshot.ts";
import { sqlIdent } from "../duckdb/engine.ts";
import { loadSql, placeholders, readSqlFile, runStatements, SQL_DIR } from "../query/sql_files.ts";
import { snapshotScanSql } from "../delta/scan.ts";
import type { SilverChange } from "./changes.ts";
import { HOUR_MS, tsLiteral } from "./intervals.ts";
import { one, type Refresh, rewriteWhole, SCOPE_COLUMNS, type TableRefresh } from "./scope.ts";
import { type GoldTableDef, goldTablePath } from "./tables.ts";

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

/** Where computeAlarms reads readings from. */
export type AlarmInput =
  /** Silver rows (SCOPE_COLUMNS or more): their alarm readings are computed here. */
  | { silverSql: string }
  /** Temp table alarm_readings already holds sql/alarms/_readings.sql over the rows to use. */
  | { existing: true };

/**
 * Computes alarm episodes into temp table `out`: shared input tables (alarm_readings and
 * sql/alarms/_context.sql), every rule's violations, then episodes (sql/alarms/_episodes.sql).
 * `conn` has the macros (sql/gold/_macros.sql) and the alarm tables loaded, as every refresh's
 * connection has (session.ts); loading them again here cost ~30 ms a refresh.
 */
export async function computeAlarms(
  conn: DuckDBConnection,
  input: AlarmInput,
  energyHourlySql: string,
  out: string,
): Promise<void> {
  await createAlarmReadings(conn, input);
  await runStatements(conn, await loadSql("alarms/_context.sql"));
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
      `SELECT rule, subject, device_id, building, floor, type, ts, clear_ts, level, value, score, threshold, min_duration_s FROM ${
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

export async function refreshAlarms(
  r: Refresh,
  def: GoldTableDef,
  gold: Snapshot,
  change: SilverChange | null,
): Promise<TableRefresh> {
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
    // An episode not in gold yet can start before the new rows: they extend a violation that
    // had not lasted its min_duration_s until now. Such an episode starts at most the longest
    // min_duration_s plus the longest hold_s before the first new reading.
    const qualify = await one(r.conn, await loadSql("alarms/_qualify_window.sql"));
    recomputeFrom = touched - Number(qualify ?? 0) * 1000;
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
      r.cache
        ? `SELECT * FROM ${await r.cache.rowsFrom(r.conn, silver, scanFrom)}`
        : `SELECT ${SCOPE_COLUMNS} FROM (${snapshotScanSql(silver, files)}) WHERE timestamp >= ${
          tsLiteral(scanFrom)
        }`,
      files,
      r.cache?.devices(),
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
  await r.conn.run(`DROP TABLE gold_alarms_new`);
  return rewriteWhole(
    r.conn,
    gold,
    out,
    "started_at, alarm_id",
    full ? "all silver" : `episodes from ${new Date(recomputeFrom).toISOString()}`,
  );
}
