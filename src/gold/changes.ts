/**
 * Change detection: what silver gained or lost between the version a gold table was built from
 * and now, and which event-time ranges that touches (from the changed files' stats).
 */
import { type AddAction, isAdd, isRemove, parseStats, timeRange } from "../delta/actions.ts";
import { readCommit } from "../delta/log.ts";
import { decodeAddPath } from "../delta/partition.ts";
import { loadSnapshot, type Snapshot } from "../delta/snapshot.ts";

/** Rows in a set of files by their stats. */
export function rowCount(files: AddAction[]): number {
  return files.reduce((n, f) => n + (parseStats(f)?.numRecords ?? 0), 0);
}

/** What changed in silver between the version a gold table saw and now. */
export interface SilverChange {
  /** Changed files' time ranges; null means "unknown, rebuild fully". */
  ranges: [number, number][] | null;
  /**
   * Files holding every row added since then: those added with dataChange, and, when some of
   * those were compacted away since (their rows moved into files added with dataChange=false),
   * every file added since — then it also holds rows older than the change (readers of `added`
   * take maxima or distinct values, which such rows do not change).
   */
  added: AddAction[];
  /** True when rows were removed (not compaction): derived tables cannot just be topped up. */
  removedData: boolean;
}

export async function silverChange(silver: Snapshot, since: number): Promise<SilverChange> {
  let old: Snapshot;
  // Whether an add or a removal changed data is said by the commit that made it: a checkpoint's
  // adds and tombstones all carry dataChange=false, whatever wrote them.
  const removedChanges = new Map<string, boolean>();
  const addedChanges = new Map<string, boolean>();
  try {
    old = await loadSnapshot(silver.path, { version: since, tombstones: false });
    const versions = Array.from({ length: silver.version - since }, (_, i) => since + 1 + i);
    for (let i = 0; i < versions.length; i += 64) {
      const commits = await Promise.all(
        versions.slice(i, i + 64).map((v) => readCommit(silver.path, v)),
      );
      for (const a of commits.flat()) {
        if (isRemove(a)) {
          removedChanges.set(decodeAddPath(a.remove.path), a.remove.dataChange ?? true);
        } else if (isAdd(a)) {
          addedChanges.set(decodeAddPath(a.add.path), a.add.dataChange ?? true);
        }
      }
    }
  } catch {
    return { ranges: null, added: [], removedData: true };
  }
  const before = new Map(old.files.map((f) => [decodeAddPath(f.path), f]));
  const now = new Set(silver.files.map((f) => decodeAddPath(f.path)));
  // A file added since `since` and removed without data change was compacted: its rows are in
  // a file the compaction added (dataChange=false), which the change must then include.
  const compactedNew = [...removedChanges].some(([p, dataChange]) => !dataChange && !before.has(p));
  const added = silver.files.filter((f) => {
    const p = decodeAddPath(f.path);
    return !before.has(p) && (compactedNew || (addedChanges.get(p) ?? true));
  });
  const removed = [...before.entries()].filter(([p]) =>
    !now.has(p) && (removedChanges.get(p) ?? true)
  ).map(([, f]) => f);
  const ranges: [number, number][] = [];
  for (const f of [...added, ...removed]) {
    const r = timeRange(f);
    if (!r) return { ranges: null, added, removedData: true };
    ranges.push(r);
  }
  return { ranges, added, removedData: removed.length > 0 };
}
