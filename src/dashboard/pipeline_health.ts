/**
 * Pipeline health from the Delta logs alone: versions, commit times, rows per minute and the
 * exactly-once watermarks — no data file is read.
 *
 * Ingest rate comes from `commitInfo.operationMetrics.numOutputRows` of the recent commits
 * (wall time of the commits, since ingestion runs in wall time even for replayed data).
 * Commit files are immutable, so each version's metrics are read once and cached; a table
 * rewritten by OPTIMIZE does not count as ingest.
 */
import { readCommit } from "../delta/log.ts";
import { isCommitInfo } from "../delta/actions.ts";
import type { Snapshot } from "../delta/snapshot.ts";

/** What one commit contributes to the ingest rate. */
interface CommitMetric {
  timestampMs: number;
  rows: number;
}

/** Health of one table, as pushed to the page. */
export interface TableHealth {
  /** bronze, silver, quarantine or gold/<name>. */
  name: string;
  version: number;
  /** Wall time of the latest commit, ms (the page shows its age). */
  commitMs: number;
  /** Rows in the active files (from file stats). */
  rows: number;
  files: number;
  /** Rows appended per minute over the last minute and the last five minutes of wall time. */
  rowsPerMin1: number;
  rowsPerMin5: number;
  /** Gold only: the silver version this table was last refreshed from (its txn watermark). */
  silverVersion?: number;
}

/** Operations that rewrite existing rows rather than ingest new ones. */
const REWRITES = new Set(["OPTIMIZE", "VACUUM START", "VACUUM END"]);
/** Commits read back at most per table and refresh (bounds a first load of a busy table). */
const MAX_WALK = 400;
const FIVE_MIN = 5 * 60_000;

/** Caches commit metrics per table; one instance per dashboard. */
export class CommitMetrics {
  #cache = new Map<string, Map<number, CommitMetric | null>>();

  /** Rows/min over the last 1 and 5 minutes of wall time before `nowMs`. */
  async rates(
    snap: Snapshot,
    nowMs: number,
  ): Promise<{ rowsPerMin1: number; rowsPerMin5: number }> {
    let cache = this.#cache.get(snap.path);
    if (!cache) this.#cache.set(snap.path, cache = new Map());
    let rows1 = 0, rows5 = 0;
    for (let v = snap.version, walked = 0; v >= 0 && walked < MAX_WALK; v--, walked++) {
      let m = cache.get(v);
      if (m === undefined) {
        m = await readMetric(snap.path, v);
        cache.set(v, m);
      }
      if (m === null) {
        // Cleaned up by log retention: nothing older is readable either.
        if (v < snap.version) break;
        continue;
      }
      if (m.timestampMs <= nowMs - FIVE_MIN) break;
      rows5 += m.rows;
      if (m.timestampMs > nowMs - 60_000) rows1 += m.rows;
    }
    // Forget versions that can no longer fall in the window.
    if (cache.size > MAX_WALK * 2) {
      for (const v of cache.keys()) if (v < snap.version - MAX_WALK) cache.delete(v);
    }
    return { rowsPerMin1: rows1, rowsPerMin5: rows5 / 5 };
  }
}

async function readMetric(path: string, version: number): Promise<CommitMetric | null> {
  try {
    const actions = await readCommit(path, version);
    for (const a of actions) {
      if (!isCommitInfo(a)) continue;
      const info = a.commitInfo;
      const rows = REWRITES.has(String(info.operation ?? ""))
        ? 0
        : Number(info.operationMetrics?.numOutputRows ?? 0);
      return { timestampMs: Number(info.timestamp ?? 0), rows: Number.isFinite(rows) ? rows : 0 };
    }
    return { timestampMs: 0, rows: 0 };
  } catch {
    return null;
  }
}

/** Rows and files of the active snapshot, from file stats (no data read). */
export function snapshotRows(snap: Snapshot): { rows: number; files: number } {
  let rows = 0;
  for (const f of snap.files) {
    if (!f.stats) continue;
    try {
      const n = JSON.parse(f.stats).numRecords;
      if (typeof n === "number") rows += n;
    } catch {
      // A file without readable stats counts as a file only.
    }
  }
  return { rows, files: snap.files.length };
}

/** The newest event time in silver, from the files' `timestamp` max stats (ms, or null). */
export function newestEventMs(snap: Snapshot): number | null {
  let newest: number | null = null;
  for (const f of snap.files) {
    if (!f.stats) continue;
    try {
      const max = JSON.parse(f.stats).maxValues?.timestamp;
      const ms = typeof max === "string" ? Date.parse(max) : NaN;
      if (Number.isFinite(ms) && (newest === null || ms > newest)) newest = ms;
    } catch {
      // Ignore unreadable stats: the file still counts when the next one is readable.
    }
  }
  return newest;
}

/** Distinct partition values of `column` among active files (e.g. the buildings of silver). */
export function partitionValues(snap: Snapshot, column: string): string[] {
  const set = new Set<string>();
  for (const f of snap.files) {
    const v = f.partitionValues?.[column];
    if (typeof v === "string" && v !== "") set.add(v);
  }
  return [...set].sort((a, b) => a.length - b.length || a.localeCompare(b));
}

/** Committed positions of one source: a Kafka topic's partitions, or the ingested files. */
export interface SourceWatermark {
  /** `kafka <topic>` (per consumer app id) or `files`. */
  source: string;
  /** Partitions, or file versions, with a committed position. */
  streams: number;
  /** Per partition `p0 1234`, newest first for files (a few), for the row's detail. */
  detail: string[];
  lastUpdatedMs?: number;
}

const KAFKA_APP_ID = /^(.*)-(\d+)$/;
const FILES_SHOWN = 3;

/**
 * Bronze's committed positions grouped by source: one row per Kafka topic (its partitions'
 * offsets) and one for the ingested files (how many, the newest few), so the panel stays one
 * row per source however many files were ingested.
 */
export function sourceWatermarks(snap: Snapshot): SourceWatermark[] {
  const kafka = new Map<string, { p: number; v: number; at?: number }[]>();
  const files: { appId: string; at?: number }[] = [];
  for (const [appId, t] of snap.txns) {
    const at = t.lastUpdated ?? undefined;
    const m = KAFKA_APP_ID.exec(appId);
    if (appId.startsWith("file:") || !m) {
      files.push({ appId, at });
      continue;
    }
    const list = kafka.get(m[1]) ?? [];
    list.push({ p: Number(m[2]), v: t.version, at });
    kafka.set(m[1], list);
  }
  const newest = (xs: { at?: number }[]) => {
    const ats = xs.map((x) => x.at).filter((x): x is number => x !== undefined);
    return ats.length ? { lastUpdatedMs: Math.max(...ats) } : {};
  };
  const out: SourceWatermark[] = [...kafka].sort(([a], [b]) => a.localeCompare(b)).map((
    [prefix, parts],
  ) => ({
    source: `kafka ${prefix}`,
    streams: parts.length,
    detail: parts.sort((a, b) => a.p - b.p).map((x) => `p${x.p} ${x.v}`),
    ...newest(parts),
  }));
  if (files.length > 0) {
    files.sort((a, b) => (b.at ?? 0) - (a.at ?? 0) || a.appId.localeCompare(b.appId));
    out.push({
      source: "files",
      streams: files.length,
      detail: files.slice(0, FILES_SHOWN).map((f) => f.appId.replace(/^file:/, "")),
      ...newest(files),
    });
  }
  return out;
}
