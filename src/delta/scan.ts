/**
 * A snapshot's data files as SQL for DuckDB: the kernel's way to read exactly the files of one
 * version (or a subset of them, e.g. those a change added) without delta_scan re-listing the log.
 * Every reader above the kernel (pipeline lookups, gold, notify, scoring, views) scans this way.
 *
 * @module
 */
import { type AddAction, parseStats } from "./actions.ts";
import { decodeAddPath } from "./partition.ts";
import { type DeltaField, duckdbType } from "./schema.ts";
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
 * The data columns of `fields` a file's stats say it lacks (written before evolution.ts added
 * them), or null when it has no per-column stats to tell (then its columns are found by name
 * when read). This layer's files list every column in `nullCount`.
 */
function missingColumns(add: AddAction, fields: DeltaField[]): string[] | null {
  const nullCount = parseStats(add)?.nullCount;
  if (!nullCount) return null;
  return fields.filter((f) => !Object.hasOwn(nullCount, f.name)).map((f) => f.name);
}

/**
 * SQL reading `files` (default: all active files) of a snapshot, columns in schema order.
 * Files are grouped by partition tuple: one read_parquet per group with the partition values
 * as constants, so partition columns never depend on directory names. No files gives an
 * empty relation of the right types.
 *
 * A column added to the table after a file was written (schema evolution) reads as NULL
 * there: files are grouped by the columns their stats say they lack too, which the group then
 * reads as typed NULL constants, so a table that never evolved keeps one plain read_parquet per
 * partition. Files without column stats are read by name against an empty relation of the full
 * schema (`UNION ALL BY NAME`), which supplies whatever they lack.
 */
export function snapshotScanSql(snapshot: Snapshot, files: AddAction[] = snapshot.files): string {
  const fields = snapshot.schema.fields;
  const parts = new Set(snapshot.partitionColumns);
  const typedNull = (f: DeltaField) => `CAST(NULL AS ${duckdbType(f.type)}) AS ${sqlIdent(f.name)}`;
  if (files.length === 0) return `SELECT ${fields.map(typedNull).join(", ")} WHERE false`;
  const dataFields = fields.filter((f) => !parts.has(f.name));
  const groups = new Map<
    string,
    { values: Record<string, string | null>; missing: Set<string> | null; paths: string[] }
  >();
  for (const f of files) {
    const missing = missingColumns(f, dataFields);
    const key = JSON.stringify([
      snapshot.partitionColumns.map((c) => f.partitionValues[c] ?? null),
      missing,
    ]);
    let g = groups.get(key);
    if (!g) {
      g = { values: f.partitionValues, missing: missing && new Set(missing), paths: [] };
      groups.set(key, g);
    }
    g.paths.push(joinLocation(snapshot.path, decodeAddPath(f.path)));
  }
  const selects = [...groups.values()].map((g) => {
    const cols = fields.map((f) =>
      parts.has(f.name)
        ? `${partitionLiteral(g.values[f.name], f.type)} AS ${sqlIdent(f.name)}`
        : g.missing?.has(f.name)
        ? typedNull(f)
        : sqlIdent(f.name)
    );
    const read = `read_parquet([${g.paths.map(sqlString).join(", ")}]${
      g.missing === null ? ", union_by_name = true" : ""
    })`;
    const from = g.missing === null
      ? `(SELECT ${
        dataFields.map(typedNull).join(", ")
      } WHERE false UNION ALL BY NAME SELECT * FROM ${read})`
      : read;
    return `SELECT ${cols.join(", ")} FROM ${from}`;
  });
  return selects.join("\nUNION ALL\n");
}
