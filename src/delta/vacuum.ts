/**
 * Vacuum: deletes data files no longer referenced by the table, once they are older than the
 * retention, and stale temp files of interrupted commits/checkpoints.
 *
 * Retention protects two things: time travel (a removed file stays while its tombstone is
 * younger than the retention) and writers in flight (a file written but not yet committed is
 * young). Hence retentions under an hour are refused unless forced. `_delta_log` is never
 * touched except for our own `.tmp-*` files; nothing outside the table root is ever visited
 * (symlinks are not followed).
 */
import { basename, dirname, join } from "node:path";
import { isS3, relativeLocation } from "../storage/location.ts";
import { storageFor } from "../storage/storage.ts";
import { RetentionTooShortError } from "./errors.ts";
import { decodeAddPath } from "./partition.ts";
import { loadSnapshot } from "./snapshot.ts";

/** Default retention: 7 days. */
export const DEFAULT_RETENTION_HOURS = 168;
/** Shortest retention accepted without `force`. */
export const MIN_RETENTION_HOURS = 1;

/** Options of vacuum. */
export interface VacuumOptions {
  retentionHours?: number;
  /** Allow a retention under MIN_RETENTION_HOURS (e.g. 0 in tests). */
  force?: boolean;
  /** List what would be deleted, delete nothing. */
  dryRun?: boolean;
  /** Called with progress lines. */
  onProgress?: (message: string) => void;
}

/** Outcome of vacuum; paths relative to the table root. */
export interface VacuumResult {
  version: number;
  dryRun: boolean;
  files: string[];
  bytes: number;
}

/**
 * Removes the empty directories under `dir`. A writer's staging directory (`_staging-*`, see
 * parquet_writer.ts) is reused for the writer's whole life and its subdirectories are empty
 * between flushes, so there a directory only goes when this vacuum emptied it (the files of a
 * crashed writer) or nothing touched it since `horizon`.
 */
async function removeEmptyDirs(
  dir: string,
  horizon: number,
  emptied: Set<string>,
  staging: boolean,
): Promise<boolean> {
  let touched = emptied.has(dir);
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory && await removeEmptyDirs(join(dir, e.name), horizon, emptied, staging)) {
      touched = true;
    }
  }
  if (staging && !touched) {
    const st = await Deno.lstat(dir).catch(() => undefined);
    if (!st || (st.mtime?.getTime() ?? 0) >= horizon) return false;
  }
  // Fails unless empty: intended.
  return await Deno.remove(dir).then(() => true, () => false);
}

/** Deletes unreferenced files older than the retention (see module doc). */
export async function vacuum(path: string, opts: VacuumOptions = {}): Promise<VacuumResult> {
  const retentionHours = opts.retentionHours ?? DEFAULT_RETENTION_HOURS;
  if (!(retentionHours >= 0)) {
    throw new RangeError(`retention must be >= 0 h, got ${retentionHours}`);
  }
  if (retentionHours < MIN_RETENTION_HOURS && !opts.force) {
    throw new RetentionTooShortError(retentionHours, MIN_RETENTION_HOURS);
  }
  const snap = await loadSnapshot(path);
  const horizon = Date.now() - retentionHours * 3_600_000;
  const keep = new Set(snap.files.map((f) => decodeAddPath(f.path)));
  for (const t of snap.tombstones) {
    if ((t.deletionTimestamp ?? 0) >= horizon) keep.add(decodeAddPath(t.path));
  }
  const root = snap.path;
  const storage = storageFor(root);
  const files: string[] = [];
  let bytes = 0;
  const candidates: { abs: string; rel: string; size: number }[] = [];
  // One listing of everything under the root (a directory walk locally, ListObjectsV2 on S3).
  for (const o of await storage.list(root, { recursive: true, details: true })) {
    const rel = relativeLocation(root, o.location);
    // The log: only our own stale temp files, never an entry or checkpoint.
    if (rel.startsWith("_delta_log/") && !basename(rel).startsWith(".tmp-")) continue;
    if (keep.has(rel)) continue;
    if ((o.mtime ?? 0) >= horizon) continue;
    candidates.push({ abs: o.location, rel, size: o.size ?? 0 });
  }
  for (const c of candidates) {
    if (!opts.dryRun) await storage.delete(c.abs);
    files.push(c.rel);
    bytes += c.size;
  }
  // Object stores have no directories to leave behind.
  if (!opts.dryRun && candidates.length > 0 && !isS3(root)) {
    const emptied = new Set<string>();
    for (const c of candidates) {
      for (let d = dirname(c.abs); d.length > root.length; d = dirname(d)) emptied.add(d);
    }
    for await (const e of Deno.readDir(root)) {
      if (e.isDirectory && e.name !== "_delta_log") {
        await removeEmptyDirs(join(root, e.name), horizon, emptied, e.name.startsWith("_staging-"));
      }
    }
  }
  opts.onProgress?.(
    `${opts.dryRun ? "would delete" : "deleted"} ${files.length} files (${bytes} B)`,
  );
  return { version: snap.version, dryRun: opts.dryRun ?? false, files, bytes };
}
