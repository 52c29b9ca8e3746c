/**
 * Compaction: per partition, small files are bin-packed and rewritten as files of about the
 * target size, in one commit of `remove`(dataChange=false) + `add`(dataChange=false).
 *
 * Safe while appends continue: new appends only add files, which commit() treats as harmless,
 * so the compaction is retried at the next version. The only conflict is a file we remove that
 * a concurrent commit (another optimize) already removed; then commit() throws
 * CommitConflictError and the files written here are left for vacuum.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { type Action, type AddAction, removeAction } from "./actions.ts";
import { commit } from "./commit.ts";
import { openDuckDB } from "../duckdb/engine.ts";
import { enableLocation } from "../duckdb/s3.ts";
import { snapshotScanSql } from "./scan.ts";
import { writeDataFiles } from "./parquet_writer.ts";
import { loadSnapshot, type Snapshot } from "./snapshot.ts";
import { sqlIdent } from "../duckdb/engine.ts";

/** Default target file size: 128 MiB (delta.targetFileSize overrides, then the option). */
/** Compacted files are written once and read many times: DuckDB's default zstd level. */
const COMPACTION_ZSTD_LEVEL = 3;

export const DEFAULT_TARGET_FILE_SIZE = 128 * 1024 * 1024;

/**
 * The `add.tags` key holding a file's compaction tier: absent (tier 0) on a file an append
 * wrote, k + 1 on a file compaction wrote from files of at most tier k. Tags survive
 * checkpoints (dataChange does not: a checkpoint stores every add with dataChange=false).
 */
export const TIER_TAG = "smarttech.tier";

/** A file's compaction tier (see {@link TIER_TAG}); 0 for an appended file. */
export function fileTier(add: AddAction): number {
  const t = Number(add.tags?.[TIER_TAG] ?? 0);
  return Number.isInteger(t) && t > 0 ? t : 0;
}

/** Options of optimize. */
export interface OptimizeOptions {
  /** Target size of output files in bytes. */
  targetSize?: number;
  /** Plan only: report what would be compacted, write nothing. */
  dryRun?: boolean;
  /** Lost races tolerated by the commit. */
  maxRetries?: number;
  /** Called with progress lines (the CLI prints them on stderr). */
  onProgress?: (message: string) => void;
  /**
   * Compact a partition only once it holds at least this many files under the target size
   * (default 2: any two). Streaming writers compact with a larger threshold, so each small file
   * is rewritten a bounded number of times.
   */
  minFiles?: number;
  /**
   * Tiered: a partition's small files are counted and packed per tier ({@link fileTier}), so
   * `minFiles` appended files become one tier-1 file, `minFiles` tier-1 files one tier-2 file,
   * and so on up to the target size. A row is then rewritten about log_minFiles(target / file
   * size) times, however often the pass runs, and a partition keeps fewer than `minFiles`
   * small files per tier. Without it, every small file of the partition is packed together.
   */
  tiered?: boolean;
  /** Compact this snapshot instead of loading the latest (a writer that just committed). */
  snapshot?: Snapshot;
  /** Write through this DuckDB connection instead of opening an instance for the run. */
  conn?: DuckDBConnection;
}

/** Outcome of optimize. */
export interface OptimizeResult {
  /** Version committed, or undefined when nothing needed compaction (or dryRun). */
  version?: number;
  readVersion: number;
  partitionsOptimized: number;
  filesRemoved: number;
  filesAdded: number;
  bytesRemoved: number;
  bytesAdded: number;
}

function partitionKey(cols: string[], add: AddAction): string {
  return JSON.stringify(cols.map((c) => add.partitionValues[c] ?? null));
}

/** Bins of >= 2 files, each bin's total at most `target` (a lone file is left as it is). */
export function planBins(files: AddAction[], target: number): AddAction[][] {
  const small = files.filter((f) => f.size < target).sort((a, b) => a.size - b.size);
  const bins: AddAction[][] = [];
  let bin: AddAction[] = [];
  let total = 0;
  for (const f of small) {
    if (bin.length > 0 && total + f.size > target) {
      bins.push(bin);
      bin = [];
      total = 0;
    }
    bin.push(f);
    total += f.size;
  }
  if (bin.length > 0) bins.push(bin);
  return bins.filter((b) => b.length >= 2);
}

/** The bins of one partition: per tier when `tiered`, else all its small files together. */
export function planPartition(
  files: AddAction[],
  target: number,
  minFiles: number,
  tiered = false,
): AddAction[][] {
  const small = files.filter((f) => f.size < target);
  const groups = tiered ? [...Map.groupBy(small, fileTier).values()] : [small];
  return groups.filter((g) => g.length >= minFiles).flatMap((g) => planBins(g, target));
}

/** Compacts small files of the latest snapshot. */
export async function optimize(path: string, opts: OptimizeOptions = {}): Promise<OptimizeResult> {
  const snap = opts.snapshot ?? await loadSnapshot(path, { tombstones: false });
  const propTarget = Number(snap.properties["delta.targetFileSize"]);
  const target = opts.targetSize ??
    (Number.isFinite(propTarget) && propTarget > 0 ? propTarget : DEFAULT_TARGET_FILE_SIZE);
  if (!(target > 0)) throw new RangeError(`optimize target size must be > 0, got ${target}`);
  const groups = Map.groupBy(snap.files, (f) => partitionKey(snap.partitionColumns, f));
  const minFiles = Math.max(2, opts.minFiles ?? 2);
  const plan = [...groups.values()]
    .map((files) => planPartition(files, target, minFiles, opts.tiered))
    .filter((b) => b.length > 0);
  const result: OptimizeResult = {
    readVersion: snap.version,
    partitionsOptimized: plan.length,
    filesRemoved: 0,
    filesAdded: 0,
    bytesRemoved: 0,
    bytesAdded: 0,
  };
  for (const bins of plan) {
    for (const bin of bins) {
      result.filesRemoved += bin.length;
      result.bytesRemoved += bin.reduce((s, f) => s + f.size, 0);
    }
  }
  if (plan.length === 0 || opts.dryRun) return result;

  const db = opts.conn ? null : await openDuckDB({ delta: false });
  const conn = opts.conn ?? db!.conn;
  await enableLocation(conn, snap.path);
  const actions: Action[] = [];
  const now = Date.now();
  try {
    const dataCols = snap.schema.fields.filter((f) => !snap.partitionColumns.includes(f.name))
      .map((f) => sqlIdent(f.name)).join(", ");
    let done = 0;
    const totalBins = plan.reduce((n, bins) => n + bins.length, 0);
    for (const bins of plan) {
      for (const bin of bins) {
        const bytes = bin.reduce((s, f) => s + f.size, 0);
        const adds = await writeDataFiles(
          conn,
          snap,
          // The bin's files by name, a column added after some were written NULL there.
          `SELECT ${dataCols} FROM (${snapshotScanSql(snap, bin)})`,
          {
            // One file: a bin never exceeds the target (planBins).
            fixedPartition: { ...bin[0].partitionValues },
            dataChange: false,
            zstdLevel: COMPACTION_ZSTD_LEVEL,
          },
        );
        for (const f of bin) actions.push(removeAction(f, false, now));
        const tier = String(Math.max(...bin.map(fileTier)) + 1);
        for (const add of adds) {
          add.tags = { ...add.tags, [TIER_TAG]: tier };
          actions.push({ add });
          result.filesAdded++;
          result.bytesAdded += add.size;
        }
        opts.onProgress?.(
          `compacted ${bin.length} files (${bytes} B) into ${adds.length} ` +
            `[bin ${++done}/${totalBins}, partition ${JSON.stringify(bin[0].partitionValues)}]`,
        );
      }
    }
  } finally {
    db?.close();
  }
  const { version } = await commit(snap.path, actions, {
    readVersion: snap.version,
    operation: "OPTIMIZE",
    operationParameters: { targetSize: target, predicate: "[]" },
    isBlindAppend: false,
    maxRetries: opts.maxRetries,
  });
  result.version = version;
  return result;
}
