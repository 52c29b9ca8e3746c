/**
 * Expired log cleanup (Delta's `delta.logRetentionDuration`, 30 days by default): deletes the
 * commit and checkpoint files that no version inside the retention needs.
 *
 * A streaming writer commits each table about 100,000 times a day at sub-second latency, so
 * without cleanup `_delta_log` grows without bound (millions of files a month per table: inodes,
 * and every full listing — time travel, history — slows with it).
 *
 * What is kept: every version whose commit is younger than the retention stays reconstructable,
 * and so does the state the checkpoint before it describes. Let E be the oldest unexpired
 * commit; files are deleted only below the second-newest checkpoint at or before E, so if the
 * newest checkpoint turns out unreadable the previous one and the commits after it still rebuild
 * every kept version. Everything deleted is therefore older than the retention.
 *
 * No listing: at this scale a `_delta_log` listing takes seconds and holds every name in memory
 * (a consumer's footprint is a published figure). The log is a contiguous run of versions —
 * cleanup deletes from the bottom up, one file at a time, so even a crash mid-pass leaves it
 * contiguous — and commit modification times grow with versions, so the oldest commit, the
 * oldest unexpired one and the checkpoints are found by binary search and a few `stat`s.
 * Files of other engines (crc, multi-part checkpoints) are never touched.
 */
import { storageFor } from "../storage/storage.ts";
import { checkpointPath, commitPath } from "./log.ts";

/** Default delta.logRetentionDuration. */
export const DEFAULT_LOG_RETENTION_MS = 30 * 24 * 3600 * 1000;

/**
 * Versions probed below E for checkpoints (~0.1 s of stats). Checkpoints are at most a few
 * thousand commits apart (spaced by state size); a log with none in reach is left for now.
 */
const MAX_CHECKPOINT_PROBES = 20_000;

/** Options of cleanupExpiredLog. */
export interface LogCleanupOptions {
  /** The table's latest version (the one just committed, or a snapshot's). */
  latest: number;
  /** delta.logRetentionDuration in ms. */
  retentionMs: number;
  /** Clock, ms since epoch (default Date.now()). */
  now?: number;
  /**
   * Time one pass may spend deleting, ms (default 100; at least one version is deleted). A first
   * pass over a long history must not hold up the commit it follows: unlinks cost 0.15–0.4 ms
   * each on this project's machines, so 10,000 of them took 1.5–3.9 s. The pass says it stopped
   * short (`complete: false`) and the next one goes on where it stopped.
   */
  budgetMs?: number;
}

/** What a pass did. */
export interface LogCleanupResult {
  commitsDeleted: number;
  checkpointsDeleted: number;
  /** False when the pass ran out of time with files left to delete. */
  complete: boolean;
  /**
   * Files below this version are (or, when the pass stopped short, will be) deleted;
   * versions from it on stay reconstructable. Undefined when nothing is eligible.
   */
  keepFrom?: number;
}

async function mtimeOf(file: string): Promise<number | undefined> {
  const info = await storageFor(file).head(file);
  return info === undefined ? undefined : info.mtime ?? 0;
}

/** Smallest v in [lo, hi] with pred(v), given pred is monotone (false…true); hi + 1 if none. */
async function firstTrue(
  lo: number,
  hi: number,
  pred: (v: number) => Promise<boolean>,
): Promise<number> {
  let a = lo, b = hi + 1;
  while (a < b) {
    const mid = Math.floor((a + b) / 2);
    if (await pred(mid)) b = mid;
    else a = mid + 1;
  }
  return a;
}

/** Deletes `file`; true when it existed. */
async function removeIfPresent(file: string): Promise<boolean> {
  return await storageFor(file).delete(file);
}

/** One cleanup pass over the log of `path`; see the module doc for what it keeps. */
export async function cleanupExpiredLog(
  path: string,
  opts: LogCleanupOptions,
): Promise<LogCleanupResult> {
  const result: LogCleanupResult = { commitsDeleted: 0, checkpointsDeleted: 0, complete: true };
  const latest = opts.latest;
  const cutoff = (opts.now ?? Date.now()) - opts.retentionMs;
  const commitTime = (v: number) => mtimeOf(commitPath(path, v));
  // The oldest commit still there.
  const oldest = await firstTrue(0, latest, async (v) => (await commitTime(v)) !== undefined);
  const oldestTime = await commitTime(oldest);
  if (oldestTime === undefined || oldestTime > cutoff) return result;
  // E: the oldest unexpired commit (the latest when every commit expired: it is always kept).
  const unexpired = await firstTrue(oldest, latest, async (v) => {
    const t = await commitTime(v);
    return t === undefined || t > cutoff;
  });
  const e = Math.min(unexpired, latest);
  // The two newest checkpoints at or before E; delete below the older one.
  const found: number[] = [];
  for (let v = e; v > oldest && v > e - MAX_CHECKPOINT_PROBES && found.length < 2; v--) {
    if ((await mtimeOf(checkpointPath(path, v))) !== undefined) found.push(v);
  }
  if (found.length < 2) return result;
  const keepFrom = found[1];
  result.keepFrom = keepFrom;
  const until = performance.now() + (opts.budgetMs ?? 100);
  // Bottom up, one at a time: the log stays a contiguous run whatever happens.
  for (let v = oldest; v < keepFrom; v++) {
    if (await removeIfPresent(checkpointPath(path, v))) result.checkpointsDeleted++;
    if (await removeIfPresent(commitPath(path, v))) result.commitsDeleted++;
    if (v + 1 < keepFrom && performance.now() >= until) {
      result.complete = false;
      break;
    }
  }
  return result;
}
