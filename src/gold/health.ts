/**
 * device_health: one row per device, rebuilt from the last hour of silver before each
 * building's newest reading plus the previous rows (all of silver when rows were removed).
 */
import { mayHoldTime, removeAction, timeRange } from "../delta/actions.ts";
import type { Snapshot } from "../delta/snapshot.ts";
import { writeDataFiles } from "../delta/table.ts";
import { loadSql } from "../query/sql_files.ts";
import { snapshotScanSql } from "../delta/scan.ts";
import type { SilverChange } from "./changes.ts";
import { HOUR_MS, tsLiteral } from "./intervals.ts";
import { one, type Refresh, type TableRefresh } from "./scope.ts";
import type { GoldTableDef } from "./tables.ts";

export async function refreshHealth(
  r: Refresh,
  def: GoldTableDef,
  gold: Snapshot,
  change: SilverChange | null,
): Promise<TableRefresh> {
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
  // gold --watch: the readings cache holds that hour when synced with this snapshot.
  const cached = Number.isFinite(from) ? r.cache?.rowsSince(r.conn, silver.version, from) : null;
  const recent = cached ??
    `(SELECT * FROM (${snapshotScanSql(silver, recentFiles)})${
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
    actions: [
      ...gold.files.map((f) => removeAction(f, true, now)),
      ...adds.map((add) => ({ add })),
    ],
    written,
    scope: full ? "all silver" : `last hour + ${change!.added.length} new file(s)`,
  };
}
