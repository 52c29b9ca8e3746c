/**
 * Writing data files for a table through DuckDB. Nothing here commits: the returned adds
 * become visible only once commit() links a log entry naming them, so a crash at any point
 * leaves at worst unreferenced files for vacuum.
 *
 * Rows are cast to the table schema in the COPY select (INT32 for `integer`, INT64 for `long`,
 * TIMESTAMPTZ = UTC-adjusted INT64 micros for `timestamp`...), so callers may hand in loosely
 * typed temp tables. Partition columns are not stored in the files; they live only in
 * `add.partitionValues`.
 *
 * On `s3://` every file is COPYed straight to its final, unique name (no staging directory
 * and no rename: an object store renames by copying), then committed.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { dirname, join, resolve, sep } from "node:path";
import type { AddAction } from "./actions.ts";
import { appendRows, sqlIdent, sqlString } from "../duckdb/engine.ts";
import { enableLocation } from "../duckdb/s3.ts";
import { isS3, joinLocation, resolveLocation } from "../storage/location.ts";
import { storageFor } from "../storage/storage.ts";
import { DataSchemaError, DeltaError } from "./errors.ts";
import { encodeAddPath, partitionDirectory } from "./partition.ts";
import { type DeltaField, duckdbType } from "./schema.ts";
import type { Snapshot } from "./snapshot.ts";
import { cellsFromColumnStatistics, type ColumnStatistics, statsJson } from "./stats.ts";

/** Default row cap per data file (a partition with more rows is split). */
export const DEFAULT_TARGET_FILE_ROWS = 2_000_000;

/** Options of writeDataFiles. */
export interface WriteDataFilesOptions {
  /** Rows per file before a partition is split into several files. */
  targetFileRows?: number;
  /** dataChange flag of the adds (false for compaction rewrites). Default true. */
  dataChange?: boolean;
  /**
   * All rows belong to this one partition, `sourceSql` has no partition columns, and they go
   * to ONE file streamed straight from the source (no copy of the rows is materialised, so
   * memory stays at a row group whatever the source's size; `targetFileRows` does not apply).
   * For compaction, whose bins fit one file; values never pass through SQL text.
   */
  fixedPartition?: Record<string, string | null>;
  /**
   * zstd level (default {@link DEFAULT_ZSTD_LEVEL}). Level 1 writes about 25 % faster than
   * DuckDB's default 3 for files about 6 % larger: the right trade for the many small files of
   * streaming and gold writes; compaction, which writes once for many reads, asks for more.
   */
  zstdLevel?: number;
  /**
   * The codec (default zstd). snappy for small, short-lived files: a partitioned COPY of a
   * few thousand rows costs about twice the CPU in zstd, whose per-page setup dominates small
   * column chunks, for files that compaction rewrites (in zstd) soon after.
   */
  compression?: ParquetCodec;
}

/** The Parquet codecs written (both read by every Delta reader). */
export type ParquetCodec = "zstd" | "snappy";

/** zstd level of streaming and gold writes (see WriteDataFilesOptions.zstdLevel). */
export const DEFAULT_ZSTD_LEVEL = 1;

/** What the writers pass down: the codec, and zstd's level. */
interface Codec {
  compression: ParquetCodec;
  zstdLevel: number;
}

function parquetOptions(c: Codec): string {
  return c.compression === "snappy"
    ? "FORMAT parquet, COMPRESSION snappy"
    : `FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL ${Math.floor(c.zstdLevel)}`;
}

function stripSql(sql: string): string {
  return sql.trim().replace(/;\s*$/, "");
}

/** Delta's string form of a partition value, computed in SQL from the typed column. */
function partitionValueSql(f: DeltaField): string {
  const c = sqlIdent(f.name);
  return f.type === "date" ? `strftime(${c}, '%Y-%m-%d')` : `CAST(${c} AS VARCHAR)`;
}

/** Expression casting a source column of DuckDB type `srcType` to the field's type. */
function castExpr(f: DeltaField, src: string | undefined, srcType: string | undefined): string {
  const target = duckdbType(f.type);
  if (src === undefined) return `CAST(NULL AS ${target}) AS ${sqlIdent(f.name)}`;
  const col = sqlIdent(src);
  if (f.type === "timestamp" && srcType && /^TIMESTAMP(_S|_MS|_NS)?$/.test(srcType)) {
    // A naive timestamp is taken as UTC, whatever the session's TimeZone.
    return `timezone('UTC', CAST(${col} AS TIMESTAMP)) AS ${sqlIdent(f.name)}`;
  }
  return `CAST(${col} AS ${target}) AS ${sqlIdent(f.name)}`;
}

/**
 * Writes Parquet files (zstd unless `compression` says otherwise) for the rows of `sourceSql`:
 * one file per distinct partition tuple, more when a partition exceeds `targetFileRows`. Files
 * are named `<partition dirs>/part-<uuid>.<codec>.parquet`. Returns their adds (dataChange=true, with
 * stats); nothing is committed.
 */
export async function writeDataFiles(
  conn: DuckDBConnection,
  snapshot: Snapshot,
  sourceSql: string,
  opts: WriteDataFilesOptions = {},
): Promise<AddAction[]> {
  const root = resolveLocation(snapshot.path);
  await enableLocation(conn, root);
  const targetRows = Math.max(1, Math.floor(opts.targetFileRows ?? DEFAULT_TARGET_FILE_ROWS));
  const fixed = opts.fixedPartition;
  const partCols = fixed ? [] : snapshot.partitionColumns;
  const fields = snapshot.schema.fields.filter((f) =>
    !fixed || !snapshot.partitionColumns.includes(f.name)
  );
  const dataFields = snapshot.schema.fields.filter((f) =>
    !snapshot.partitionColumns.includes(f.name)
  );
  const partFields = partCols.map((c) => snapshot.schema.fields.find((f) => f.name === c)!);
  const src = stripSql(sourceSql);
  const codec: Codec = {
    compression: opts.compression ?? "zstd",
    zstdLevel: opts.zstdLevel ?? DEFAULT_ZSTD_LEVEL,
  };

  // Map schema fields to source columns (exact name, else case-insensitive like DuckDB).
  const described = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM (${src})`))
    .getRowObjects().map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  const used = new Set<string>();
  const sourceOf = new Map<string, { name: string; type: string }>();
  for (const f of fields) {
    const hit = described.find((d) => d.name === f.name) ??
      described.find((d) => d.name.toLowerCase() === f.name.toLowerCase());
    if (hit) {
      sourceOf.set(f.name, hit);
      used.add(hit.name);
    } else if (!f.nullable) {
      throw new DataSchemaError(
        `source has no column for non-nullable field "${f.name}" (source columns: ${
          described.map((d) => d.name).join(", ")
        })`,
      );
    }
  }
  const extra = described.filter((d) => !used.has(d.name)).map((d) => d.name);
  if (extra.length > 0) {
    throw new DataSchemaError(
      `source columns not in the table schema: ${extra.join(", ")} (table ${root})`,
    );
  }

  const casts = fields.map((f) =>
    castExpr(f, sourceOf.get(f.name)?.name, sourceOf.get(f.name)?.type)
  );
  const dataChange = opts.dataChange ?? true;
  if (fixed) {
    return [
      await writeOneFile(conn, snapshot, root, src, casts, dataFields, fixed, {
        dataChange,
        ...codec,
      }),
    ];
  }
  // The single pass stages and renames: local only.
  const fast = isS3(root)
    ? null
    : await writeSinglePass(conn, snapshot, root, src, casts, partFields, dataFields, {
      targetRows,
      dataChange,
      ...codec,
    });
  if (fast) return fast;
  const tmp = `__delta_write_${crypto.randomUUID().replaceAll("-", "")}`;
  const pIdents = partFields.map((f) => sqlIdent(f.name));
  const pidExpr = pIdents.length > 0
    ? `dense_rank() OVER (ORDER BY ${pIdents.map((p) => `${p} NULLS FIRST`).join(", ")})`
    : "1";
  const chunkExpr = `(row_number() OVER (${
    pIdents.length > 0 ? `PARTITION BY ${pIdents.join(", ")}` : ""
  }) - 1) // ${targetRows}`;
  await conn.run(
    `CREATE TEMP TABLE ${
      sqlIdent(tmp)
    } AS SELECT *, ${pidExpr} AS __pid, ${chunkExpr} AS __chunk ` +
      `FROM (SELECT ${casts.join(", ")} FROM (${src})) ORDER BY __pid, __chunk`,
  );
  try {
    const groupCols = ["__pid", "__chunk", ...pIdents];
    const groups = (await conn.runAndReadAll(
      `SELECT __pid, __chunk, ${partFields.map(partitionValueSql).join(", ") || "NULL"} FROM ${
        sqlIdent(tmp)
      } GROUP BY ${groupCols.join(", ")} ORDER BY __pid, __chunk`,
    )).getRows();
    const dataCols = dataFields.map((f) => sqlIdent(f.name)).join(", ");
    const targets: { rel: string; abs: string }[] = [];
    const planned: PlannedFile[] = [];
    try {
      for (const row of groups) {
        const partitionValues = partitionValuesOf(partFields, row.slice(2));
        const target = await dataFilePath(snapshot, root, partitionValues, codec.compression);
        targets.push(target);
        const files = await copyWithStats(
          conn,
          `SELECT ${dataCols} FROM ${sqlIdent(tmp)} WHERE __pid = ${Number(row[0])} AND __chunk = ${
            Number(row[1])
          }`,
          target.abs,
          parquetOptions(codec),
        );
        planned.push(planFile(snapshot, root, dataFields, partitionValues, files[0]));
      }
    } catch (err) {
      // Nothing references these files yet: remove them rather than wait for vacuum.
      await Promise.all(targets.map((t) => removeUncommitted(t.abs)));
      throw err;
    }
    return targets.map((t, i) => addFor(t, planned[i], dataChange));
  } finally {
    await conn.run(`DROP TABLE IF EXISTS ${sqlIdent(tmp)}`).catch(() => {});
  }
}

/** All rows of `src` as one file of partition `fixed` (WriteDataFilesOptions.fixedPartition). */
async function writeOneFile(
  conn: DuckDBConnection,
  snapshot: Snapshot,
  root: string,
  src: string,
  casts: string[],
  dataFields: DeltaField[],
  fixed: Record<string, string | null>,
  opts: { dataChange: boolean } & Codec,
): Promise<AddAction> {
  const partitionValues = { ...fixed };
  const target = await dataFilePath(snapshot, root, partitionValues, opts.compression);
  try {
    const files = await copyWithStats(
      conn,
      `SELECT ${casts.join(", ")} FROM (${src})`,
      target.abs,
      parquetOptions(opts),
    );
    if (files.length !== 1) throw new DeltaError(`expected one file, DuckDB wrote ${files.length}`);
    return addFor(
      target,
      planFile(snapshot, root, dataFields, partitionValues, files[0]),
      opts.dataChange,
    );
  } catch (err) {
    await removeUncommitted(target.abs);
    throw err;
  }
}

/**
 * The common streaming case — every partition fits in one file — in one pass per step: one
 * GROUP BY for the stats of every partition, then ONE `COPY … PARTITION_BY` that writes all
 * partition files in parallel into a private staging directory, from which each file is
 * renamed to its Delta partition directory. Returns null (nothing written) when a partition
 * exceeds `targetRows`, leaving the general path to split it.
 */
async function writeSinglePass(
  conn: DuckDBConnection,
  snapshot: Snapshot,
  root: string,
  src: string,
  casts: string[],
  partFields: DeltaField[],
  dataFields: DeltaField[],
  opts: { targetRows: number; dataChange: boolean } & Codec,
): Promise<AddAction[] | null> {
  const typed = `(SELECT ${casts.join(", ")} FROM (${src}))`;
  const pValues = partFields.map(partitionValueSql);
  // Grouped and joined on the typed partition columns: their string form is computed once
  // per partition, not once per row.
  const pIdents = partFields.map((f) => sqlIdent(f.name));
  const groupBy = partFields.length ? `GROUP BY ${pIdents.join(", ")}` : "";
  const groups = (await conn.runAndReadAll(
    `SELECT count(*)::BIGINT${pValues.map((v) => `, ${v}`).join("")} FROM ${typed} ${groupBy}`,
  )).getRows().filter((row) => Number(row[0]) > 0);
  if (groups.length === 0) return [];
  if (groups.some((row) => Number(row[0]) > opts.targetRows)) return null;
  const partitions = groups.map((row) => partitionValuesOf(partFields, row.slice(1)));

  const pids = `__delta_pids_${crypto.randomUUID().replaceAll("-", "")}`;
  const staging = stagingDirectory(root);
  const pidCols = partFields.map((_, j) => `v${j} VARCHAR`);
  await conn.run(
    `CREATE TEMP TABLE ${sqlIdent(pids)} (pid INTEGER${pidCols.map((c) => `, ${c}`).join("")})`,
  );
  try {
    await appendRows(
      conn,
      pids,
      partitions.map((values, i) => [i + 1, ...partFields.map((f) => values[f.name])]),
    );
    const keys = `(SELECT pid${
      partFields.map((f, j) => `, CAST(v${j} AS ${duckdbType(f.type)}) AS k${j}`).join("")
    } FROM ${sqlIdent(pids)})`;
    const on = partFields.length
      ? pIdents.map((c, j) => `${c} IS NOT DISTINCT FROM p.k${j}`).join(" AND ")
      : "TRUE";
    const dataCols = dataFields.map((f) => sqlIdent(f.name)).join(", ");
    await Deno.mkdir(staging, { recursive: true });
    const files = await copyWithStats(
      conn,
      `SELECT ${dataCols}, p.pid AS __pid FROM ${typed} JOIN ${keys} p ON ${on}`,
      staging,
      `${parquetOptions(opts)}, PARTITION_BY (__pid), FILENAME_PATTERN 'data_{uuid}', APPEND`,
    );
    try {
      const byDir = Map.groupBy(files, (f) => dirname(resolve(f.path)));
      // Validate every file before moving any into the table.
      const planned = partitions.map((partitionValues, i) => {
        const mine = byDir.get(resolve(staging, `__pid=${i + 1}`)) ?? [];
        if (mine.length !== 1) {
          throw new DeltaError(
            `expected one file for partition ${i + 1}, DuckDB wrote ${mine.length}`,
          );
        }
        return {
          file: mine[0],
          plan: planFile(snapshot, root, dataFields, partitionValues, mine[0]),
        };
      });
      const adds: AddAction[] = [];
      for (const { file, plan } of planned) {
        const target = await dataFilePath(snapshot, root, plan.partitionValues, opts.compression);
        await Deno.rename(file.path, target.abs);
        adds.push(addFor(target, plan, opts.dataChange));
      }
      return adds;
    } catch (err) {
      await Promise.all(files.map((f) => Deno.remove(f.path).catch(() => {})));
      throw err;
    }
  } finally {
    await conn.run(`DROP TABLE IF EXISTS ${sqlIdent(pids)}`).catch(() => {});
  }
}

/** Per table root, the directory this process stages partitioned writes in. */
const stagingDirectories = new Map<string, string>();

/**
 * This process's staging directory under a table root, kept for the process's life: DuckDB
 * creates a `__pid=N` subdirectory per partition on every partitioned COPY, and creating and
 * deleting them on every flush made ext4's inode allocator scan its recently-deleted inodes —
 * a third of the consumer's CPU. Files only pass through (they are renamed into their
 * partition directory before commit), so what a crash leaves is uncommitted and vacuum removes
 * it; {@link releaseStagingDirectories} removes them on a clean exit.
 */
function stagingDirectory(root: string): string {
  let dir = stagingDirectories.get(root);
  if (!dir) {
    dir = join(root, `_staging-${crypto.randomUUID()}`);
    stagingDirectories.set(root, dir);
  }
  return dir;
}

/** Removes this process's staging directories under `roots` (once their writers are done). */
export async function releaseStagingDirectories(roots: Iterable<string>): Promise<void> {
  await Promise.all([...roots].map(async (root) => {
    const dir = stagingDirectories.get(resolveLocation(root));
    if (!dir) return;
    stagingDirectories.delete(resolveLocation(root));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }));
}

/** One Parquet file a COPY wrote, with the statistics its writer kept. */
interface WrittenFile {
  path: string;
  rows: number;
  size: number;
  columns: Map<string, ColumnStatistics>;
}

/** `"name"` → name: RETURN_STATS names columns as quoted identifiers. */
function unquoteIdent(key: string): string {
  return key.length >= 2 && key.startsWith('"') && key.endsWith('"')
    ? key.slice(1, -1).replaceAll('""', '"')
    : key;
}

/**
 * `COPY (select) TO target (options, RETURN_STATS)`: the files written, each with its row
 * count and per-column min/max/null counts from the Parquet writer.
 */
async function copyWithStats(
  conn: DuckDBConnection,
  select: string,
  target: string,
  options: string,
): Promise<WrittenFile[]> {
  const result = await conn.runAndReadAll(
    `COPY (${select}) TO ${sqlString(target)} (${options}, RETURN_STATS)`,
  );
  return result.getRowObjectsJson().map((row) => {
    const columns = new Map<string, ColumnStatistics>();
    for (const entry of row.column_statistics as { key: string; value: MapEntries }[]) {
      columns.set(
        unquoteIdent(entry.key),
        Object.fromEntries(entry.value.map((e) => [e.key, e.value])),
      );
    }
    return {
      path: String(row.filename),
      rows: Number(row.count),
      size: Number(row.file_size_bytes),
      columns,
    };
  });
}

type MapEntries = { key: string; value: string | null }[];

/** Delta partition values of a group from its cells (Delta's string form, computed in SQL). */
function partitionValuesOf(
  partFields: DeltaField[],
  cells: unknown[],
): Record<string, string | null> {
  const partitionValues: Record<string, string | null> = {};
  partFields.forEach((f, j) => {
    const v = cells[j];
    partitionValues[f.name] = v === null || v === undefined ? null : String(v);
  });
  return partitionValues;
}

interface PlannedFile {
  partitionValues: Record<string, string | null>;
  json: string;
  size: number;
}

/**
 * The stats JSON of a written file; rejects NULLs in non-nullable columns, so a file breaking
 * the schema is never added.
 */
function planFile(
  snapshot: Snapshot,
  root: string,
  dataFields: DeltaField[],
  partitionValues: Record<string, string | null>,
  file: WrittenFile,
): PlannedFile {
  const { json, nullCount } = statsJson(
    dataFields,
    file.rows,
    cellsFromColumnStatistics(dataFields, file.columns),
  );
  for (const f of snapshot.schema.fields) {
    const isNull = snapshot.partitionColumns.includes(f.name)
      ? partitionValues[f.name] === null
      : (nullCount[f.name] ?? 0) > 0;
    if (!f.nullable && isNull) {
      throw new DataSchemaError(`NULL in non-nullable column "${f.name}" of table ${root}`);
    }
  }
  return { partitionValues, json, size: file.size };
}

/** Deletes a written file nothing references yet (best effort: vacuum gets the rest). */
async function removeUncommitted(location: string): Promise<void> {
  await storageFor(location).delete(location).catch(() => {});
}

/** A fresh data file path in the partition's directory (created), checked to stay inside. */
async function dataFilePath(
  snapshot: Snapshot,
  root: string,
  partitionValues: Record<string, string | null>,
  compression: ParquetCodec,
): Promise<{ rel: string; abs: string }> {
  const dir = partitionDirectory(snapshot.partitionColumns, partitionValues);
  const name = `part-${crypto.randomUUID()}.${compression}.parquet`;
  const rel = dir ? `${dir}/${name}` : name;
  const abs = joinLocation(root, rel);
  // Defence in depth: escaping already guarantees this.
  if (!abs.startsWith(root + (isS3(root) ? "/" : sep))) {
    throw new DeltaError(`refusing to write ${abs}: outside table ${root}`);
  }
  if (!isS3(root)) await Deno.mkdir(dirname(abs), { recursive: true });
  return { rel, abs };
}

/** The add of a written file; its size is what the Parquet writer reported (no stat). */
function addFor(
  target: { rel: string; abs: string },
  p: PlannedFile,
  dataChange: boolean,
): AddAction {
  return {
    path: encodeAddPath(target.rel),
    partitionValues: p.partitionValues,
    size: p.size,
    modificationTime: Date.now(),
    dataChange,
    stats: p.json,
  };
}
