/**
 * incidents: alarm episodes of one series merged (sql/alarms/_incidents.sql), recomputed from all
 * of gold/alarms and gold/device_health as this refresh left them. Those are small (episodes,
 * one row per device), so a whole recompute costs milliseconds and an incremental refresh equals
 * a full one by construction; the table is rewritten whole (one file).
 */
import { TableNotFoundError } from "../delta/errors.ts";
import { duckdbType } from "../delta/schema.ts";
import { loadSnapshot, type Snapshot } from "../delta/snapshot.ts";
import { sqlIdent } from "../duckdb/engine.ts";
import { loadSql } from "../query/sql_files.ts";
import { snapshotScanSql } from "../delta/scan.ts";
import type { SilverChange } from "./changes.ts";
import { type Refresh, rewriteWhole, type TableRefresh } from "./scope.ts";
import { healthRebuilt } from "./schedule.ts";
import { GOLD_TABLES, type GoldTableDef, goldTablePath, goldTxnAppId } from "./tables.ts";

/** A gold table's rows as SQL, or an empty relation of its schema when it does not exist yet. */
async function goldInput(lakehouse: string, name: string): Promise<string> {
  try {
    const snap = await loadSnapshot(goldTablePath(lakehouse, name), { tombstones: false });
    return `(${snapshotScanSql(snap)})`;
  } catch (err) {
    if (!(err instanceof TableNotFoundError)) throw err;
    const def = GOLD_TABLES.find((d) => d.name === name)!;
    const cols = def.schema.fields.map((f) =>
      `CAST(NULL AS ${duckdbType(f.type)}) AS ${sqlIdent(f.name)}`
    );
    return `(SELECT ${cols.join(", ")} WHERE false)`;
  }
}

/**
 * gold/device_health's horizons at this refresh's silver version: the table itself when it is
 * up to date, else its rows topped up with the silver rows added since its version
 * (sql/alarms/_health_horizon.sql) — `gold --watch` refreshes device_health after the alarm
 * path, and first when that cannot be exact (schedule.ts healthRebuilt).
 */
async function healthInput(r: Refresh): Promise<string> {
  const rows = await goldInput(r.lakehouse, "device_health");
  let seen: number | undefined;
  try {
    const snap = await loadSnapshot(goldTablePath(r.lakehouse, "device_health"), {
      tombstones: false,
    });
    seen = snap.txnVersion(goldTxnAppId("device_health"));
  } catch (err) {
    if (!(err instanceof TableNotFoundError)) throw err;
  }
  if (seen === undefined || seen >= r.silver.version) return rows;
  const change = await r.change(seen);
  if (healthRebuilt(change) || change.added.length === 0) return rows;
  // The rows added since are in the watcher's readings cache when it was synced with this
  // snapshot and starts before them: reading it beats opening every file added since.
  const since = Math.min(...change.ranges!.map((x) => x[0]));
  const cached = r.cache?.rowsSince(r.conn, r.silver.version, since);
  return `(${await loadSql("alarms/_health_horizon.sql", {
    previous: rows,
    new_rows: cached ?? `(${snapshotScanSql(r.silver, change.added)})`,
  })})`;
}

export async function refreshIncidents(
  r: Refresh,
  def: GoldTableDef,
  gold: Snapshot,
  change: SilverChange | null,
): Promise<TableRefresh> {
  if (change !== null && change.ranges !== null && change.ranges.length === 0) {
    return { actions: [], written: 0, scope: "no new rows" };
  }
  const out = `gold_out_${def.name}`;
  await r.conn.run(
    `CREATE OR REPLACE TEMP TABLE ${out} AS ${await loadSql(def.sqlFile, {
      alarms: await goldInput(r.lakehouse, "alarms"),
      device_health: await healthInput(r),
    })}`,
  );
  return rewriteWhole(r.conn, gold, out, "started_at, incident_id", "all alarm episodes");
}
