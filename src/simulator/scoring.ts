/**
 * Scoring `gold/alarms` against the simulator's truth file (`--truth` NDJSON of injected anomaly
 * episodes), so alarm rules and thresholds are judged by numbers, not by eye.
 *
 * - An injected episode is detected when some alarm on the same device (for building-level
 *   kinds such as energy_high: any alarm of the same building on a building-level rule or one
 *   of the episode's devices) overlaps it in time, each side widened by `toleranceMs`.
 *   Building-level episodes are written once per affected meter; they count once.
 * - An alarm is false when it overlaps no injected episode in the same way. Open alarms
 *   (ended_at null) extend to the end of time.
 */
import type { Episode } from "./faults.ts";
import { snapshotScanSql } from "../query/views.ts";
import { openDuckDB } from "../duckdb/engine.ts";
import { loadSnapshot } from "../delta/snapshot.ts";
import { goldTablePath } from "../query/gold_tables.ts";

/** The alarm columns scoring needs; times in epoch ms. */
export interface ScoredAlarm {
  alarm_id: string;
  rule: string;
  severity: string;
  device_id: string | null;
  building: string;
  started_at: number;
  ended_at: number | null;
}

/** Options of scoreAlarms. */
export interface ScoreOptions {
  /** Slack on both sides of an episode when matching, ms (default 60 s). */
  toleranceMs?: number;
}

/** Per-kind or per-rule tallies. */
export interface Tally {
  total: number;
  hit: number;
}

/** The outcome of scoring. */
export interface ScoreResult {
  episodes: number;
  detected: number;
  /** detected / episodes (1 when there are no episodes). */
  detectionRate: number;
  alarms: number;
  falseAlarms: number;
  /** falseAlarms / alarms (0 when there are no alarms). */
  falseAlarmRate: number;
  /** Per episode kind: episodes and how many were detected. */
  byKind: Record<string, Tally>;
  /** Per alarm rule: alarms and how many matched an episode. */
  byRule: Record<string, Tally>;
  missed: Episode[];
  falseAlarmList: ScoredAlarm[];
}

function isBuildingLevel(e: Episode): boolean {
  return e.scope === "building" || e.kind === "energy_high";
}

/** Building-level episodes appear once per meter; keep one per (building, kind, start). */
function distinctEpisodes(episodes: Episode[]): Episode[] {
  const seen = new Set<string>();
  return episodes.filter((e) => {
    if (!isBuildingLevel(e)) return true;
    const key = `${e.building}|${e.kind}|${e.start}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function matches(a: ScoredAlarm, e: Episode, devicesOf: Map<string, Set<string>>, tol: number) {
  if (isBuildingLevel(e)) {
    if (a.building !== e.building) return false;
    const devices = devicesOf.get(`${e.building}|${e.kind}|${e.start}`);
    if (a.device_id !== null && !devices?.has(a.device_id)) return false;
  } else if (a.device_id !== e.device_id) {
    return false;
  }
  const start = Date.parse(e.start) - tol;
  const end = Date.parse(e.end) + tol;
  return a.started_at <= end && (a.ended_at === null || a.ended_at >= start);
}

/**
 * Scores alarms against truth episodes.
 *
 * @example
 * ```ts
 * const r = scoreAlarms(await readAlarms("./lakehouse"), await readTruth("truth.ndjson"));
 * console.log(`${(100 * r.detectionRate).toFixed(1)} % detected`);
 * ```
 */
export function scoreAlarms(
  alarms: ScoredAlarm[],
  truth: Episode[],
  opts: ScoreOptions = {},
): ScoreResult {
  const tol = opts.toleranceMs ?? 60_000;
  const devicesOf = new Map<string, Set<string>>();
  for (const e of truth) {
    if (!isBuildingLevel(e)) continue;
    const key = `${e.building}|${e.kind}|${e.start}`;
    const set = devicesOf.get(key) ?? new Set<string>();
    set.add(e.device_id);
    devicesOf.set(key, set);
  }
  const episodes = distinctEpisodes(truth);
  const byKind: Record<string, Tally> = {};
  const byRule: Record<string, Tally> = {};
  const missed: Episode[] = [];
  let detected = 0;
  for (const e of episodes) {
    const t = byKind[e.kind] ??= { total: 0, hit: 0 };
    t.total++;
    if (alarms.some((a) => matches(a, e, devicesOf, tol))) {
      detected++;
      t.hit++;
    } else {
      missed.push(e);
    }
  }
  const falseAlarmList: ScoredAlarm[] = [];
  for (const a of alarms) {
    const t = byRule[a.rule] ??= { total: 0, hit: 0 };
    t.total++;
    if (episodes.some((e) => matches(a, e, devicesOf, tol))) t.hit++;
    else falseAlarmList.push(a);
  }
  return {
    episodes: episodes.length,
    detected,
    detectionRate: episodes.length ? detected / episodes.length : 1,
    alarms: alarms.length,
    falseAlarms: falseAlarmList.length,
    falseAlarmRate: alarms.length ? falseAlarmList.length / alarms.length : 0,
    byKind,
    byRule,
    missed,
    falseAlarmList,
  };
}

/** Reads a truth NDJSON file (one Episode per line; blank lines ignored). */
export async function readTruth(path: string): Promise<Episode[]> {
  const text = await Deno.readTextFile(path);
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Episode);
}

/** Reads the latest committed `gold/alarms` of a lakehouse. */
export async function readAlarms(lakehouse: string): Promise<ScoredAlarm[]> {
  const snap = await loadSnapshot(goldTablePath(lakehouse, "alarms"), { tombstones: false });
  const db = await openDuckDB({ delta: false });
  try {
    const rows = (await db.conn.runAndReadAll(
      `SELECT alarm_id, rule, severity, device_id, building, epoch_ms(started_at) AS s,
         epoch_ms(ended_at) AS e FROM (${snapshotScanSql(snap)}) ORDER BY started_at`,
    )).getRows();
    return rows.map((r) => ({
      alarm_id: String(r[0]),
      rule: String(r[1]),
      severity: String(r[2]),
      device_id: r[3] === null ? null : String(r[3]),
      building: String(r[4]),
      started_at: Number(r[5]),
      ended_at: r[6] === null ? null : Number(r[6]),
    }));
  } finally {
    db.close();
  }
}
