/**
 * A snapshot's data files as SQL for DuckDB: the kernel's way to read exactly the files of one
 * version (or a subset of them, e.g. those a change added) without delta_scan re-listing the log.
 * Every reader above the kernel (pipeline lookups, gold, notify, scoring, views) scans this way.
 *
 * @module
 */
import type { AddAction } from "./actions.ts";
import { decodeAddPath } from "./partition.ts";
import { duckdbType } from "./schema.ts";
import type { Snapshot } from "./snapshot.ts";
import { sqlIdent, sqlString } from "../duckdb/engine.ts";
import { joinLocation } from "../storage/location.ts";

/** Typed SQL literal of a Delta partition value (its string form, or null). */
function partitionLiteral(
  value: string | null | undefined,
  deltaType: Parameters<typeof duckdbType>[0],
): string {
  const t = duckdbType(deltaType);
  return value === null || value === undefined
    ? `CAST(NULL AS ${t})`
    : `CAST(${sqlString(value)} AS ${t})`;
}

/**
 * SQL reading `files` (default: all active files) of a snapshot, columns in schema order.
 * Files are grouped by partition tuple: one read_parquet per group with the partition values
 * as constants, so partition columns never depend on directory names. No files gives an
 * empty relation of the right types.
 */
export function snapshotScanSql(snapshot: Snapshot, files: AddAction[] = snapshot.files): string {
  const fields = snapshot.schema.fields;
  const parts = new Set(snapshot.partitionColumns);
  if (files.length === 0) {
    return `SELECT ${
      fields.map((f) => `CAST(NULL AS ${duckdbType(f.type)}) AS ${sqlIdent(f.name)}`).join(", ")
    } WHERE false`;
  }
  const groups = new Map<string, { values: Record<string, string | null>; paths: string[] }>();
  for (const f of files) {
    const key = JSON.stringify(snapshot.partitionColumns.map((c) => f.partitionValues[c] ?? null));
    let g = groups.get(key);
    if (!g) {
      g = { values: f.partitionValues, paths: [] };
      groups.set(key, g);
    }
    g.paths.push(joinLocation(snapshot.path, decodeAddPath(f.path)));
  }
  const selects = [...groups.values()].map((g) => {
    const cols = fields.map((f) =>
      parts.has(f.name)
        ? `${partitionLiteral(g.values[f.name], f.type)} AS ${sqlIdent(f.name)}`
        : sqlIdent(f.name)
    );
    return `SELECT ${cols.join(", ")} FROM read_parquet([${g.paths.map(sqlString).join(", ")}])`;
  });
  return selects.join("\nUNION ALL\n");
}
