/**
 * Change detection: what silver gained or lost between the version a gold table was built from
 * and now, and which event-time ranges that touches (from the changed files' stats).
 */
import { type AddAction, isRemove, parseStats, timeRange } from "../delta/actions.ts";
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
  /** Files added with dataChange since then. */
  added: AddAction[];
  /** True when rows were removed (not compaction): derived tables cannot just be topped up. */
  removedData: boolean;
}

export async function silverChange(silver: Snapshot, since: number): Promise<SilverChange> {
  let old: Snapshot;
  // Whether a removal changed data is said by the commit that made it: a checkpoint's tombstones
  // all carry dataChange=false, whatever removed them.
  const removedChanges = new Map<string, boolean>();
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
        }
      }
    }
  } catch {
    return { ranges: null, added: [], removedData: true };
  }
  const before = new Map(old.files.map((f) => [decodeAddPath(f.path), f]));
  const now = new Set(silver.files.map((f) => decodeAddPath(f.path)));
  const added = silver.files.filter((f) => !before.has(decodeAddPath(f.path)) && f.dataChange);
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
