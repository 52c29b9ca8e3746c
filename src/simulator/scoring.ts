/**
 * Scoring `gold/incidents` (what an operator is told) and `gold/alarms` (each rule's episodes)
 * against the simulator's truth file (`--truth` NDJSON of injected anomaly episodes), so alarm
 * rules and thresholds are judged by numbers, not by eye.
 *
 * - An injected episode is detected when some incident (or alarm) on the same device (for
 *   building-level kinds such as energy_high: any of the same building on a building-level
 *   rule or one of the episode's devices) overlaps it in time, each side widened by
 *   `toleranceMs`. Building-level episodes are written once per affected meter; they count once.
 * - An incident (alarm) is false when it overlaps no injected episode in the same way. Open ones
 *   (ended_at null) extend to the end of time.
 */
import type { Episode } from "./faults.ts";
import { snapshotScanSql } from "../delta/scan.ts";
import { openDuckDB } from "../duckdb/engine.ts";
import { loadSnapshot } from "../delta/snapshot.ts";
import { goldTablePath } from "../gold/tables.ts";

/** The alarm columns scoring needs; times in epoch ms. */
export interface ScoredAlarm {
  alarm_id: string;
  rule: string;
  severity: string;
  device_id: string | null;
  building: string;
  type: string | null;
  started_at: number;
  ended_at: number | null;
}

/** The incident columns scoring needs; times in epoch ms. */
export interface ScoredIncident {
  incident_id: string;
  /** The rules of its episodes. */
  rules: string[];
  severity: string;
  device_id: string | null;
  building: string;
  type: string | null;
  started_at: number;
  ended_at: number | null;
}

/** What matching needs of an alarm or an incident. */
type Detection = Pick<ScoredAlarm, "device_id" | "building" | "started_at" | "ended_at">;

/** Options of scoreAlarms and scoreIncidents. */
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

/** The outcome of scoring incidents. */
export interface IncidentScoreResult {
  episodes: number;
  detected: number;
  /** detected / episodes (1 when there are no episodes). */
  recall: number;
  incidents: number;
  falseIncidents: number;
  /** falseIncidents / incidents (0 when there are none). */
  falseIncidentRate: number;
  byKind: Record<string, Tally>;
  missed: Episode[];
  falseIncidentList: ScoredIncident[];
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

function matches(a: Detection, e: Episode, devicesOf: Map<string, Set<string>>, tol: number) {
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

/** Which episodes some detection matches, and which detections match none. */
function matchAll<T extends Detection>(detections: T[], truth: Episode[], tol: number) {
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
  const missed: Episode[] = [];
  let detected = 0;
  for (const e of episodes) {
    const t = byKind[e.kind] ??= { total: 0, hit: 0 };
    t.total++;
    if (detections.some((a) => matches(a, e, devicesOf, tol))) {
      detected++;
      t.hit++;
    } else {
      missed.push(e);
    }
  }
  const explained = detections.map((a) => episodes.some((e) => matches(a, e, devicesOf, tol)));
  return { episodes: episodes.length, detected, byKind, missed, explained };
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
  const m = matchAll(alarms, truth, opts.toleranceMs ?? 60_000);
  const byRule: Record<string, Tally> = {};
  const falseAlarmList: ScoredAlarm[] = [];
  alarms.forEach((a, i) => {
    const t = byRule[a.rule] ??= { total: 0, hit: 0 };
    t.total++;
    if (m.explained[i]) t.hit++;
    else falseAlarmList.push(a);
  });
  return {
    episodes: m.episodes,
    detected: m.detected,
    detectionRate: m.episodes ? m.detected / m.episodes : 1,
    alarms: alarms.length,
    falseAlarms: falseAlarmList.length,
    falseAlarmRate: alarms.length ? falseAlarmList.length / alarms.length : 0,
    byKind: m.byKind,
    byRule,
    missed: m.missed,
    falseAlarmList,
  };
}

/**
 * Scores incidents against truth episodes: recall, and incidents no injected episode explains.
 *
 * @example
 * ```ts
 * const r = scoreIncidents(await readIncidents("./lakehouse"), await readTruth("truth.ndjson"));
 * console.log(`recall ${(100 * r.recall).toFixed(1)} %, ${r.falseIncidents} false incidents`);
 * ```
 */
export function scoreIncidents(
  incidents: ScoredIncident[],
  truth: Episode[],
  opts: ScoreOptions = {},
): IncidentScoreResult {
  const m = matchAll(incidents, truth, opts.toleranceMs ?? 60_000);
  const falseIncidentList = incidents.filter((_, i) => !m.explained[i]);
  return {
    episodes: m.episodes,
    detected: m.detected,
    recall: m.episodes ? m.detected / m.episodes : 1,
    incidents: incidents.length,
    falseIncidents: falseIncidentList.length,
    falseIncidentRate: incidents.length ? falseIncidentList.length / incidents.length : 0,
    byKind: m.byKind,
    missed: m.missed,
    falseIncidentList,
  };
}

/**
 * How many incidents (or alarms) each sensor type has: every type of `types` (the catalogue's,
 * in its order) even with none, then any other type they name.
 */
export function countByType(
  rows: readonly { type: string | null }[],
  types: readonly string[],
): [string, number][] {
  const counts = new Map<string, number>(types.map((t) => [t, 0]));
  for (const r of rows) {
    const t = r.type ?? "(none)";
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  return [...counts];
}

/**
 * The detection report of a run, as the demo and `deno task score` print it; `byType` (from
 * {@link countByType}) adds a line of incidents per sensor type.
 */
export function detectionReport(
  incidents: IncidentScoreResult,
  alarms: ScoreResult,
  byType?: [string, number][],
): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const kinds = Object.entries(incidents.byKind).sort(([a], [b]) => a.localeCompare(b))
    .map(([k, t]) => `${k} ${t.hit}/${t.total}`).join(", ");
  return [
    `Detection against the simulator's truth (${incidents.episodes} injected episodes):`,
    `  incidents: ${incidents.detected}/${incidents.episodes} episodes found (recall ${
      pct(incidents.recall)
    }), ${incidents.falseIncidents}/${incidents.incidents} incidents false (${
      pct(incidents.falseIncidentRate)
    })`,
    `  alarms:    ${alarms.detected}/${alarms.episodes} episodes found (${
      pct(alarms.detectionRate)
    }), ${alarms.falseAlarms}/${alarms.alarms} alarm episodes false (${
      pct(alarms.falseAlarmRate)
    })`,
    ...(kinds ? [`  by kind (incidents): ${kinds}`] : []),
    ...(byType ? [`  by type (incidents): ${byType.map(([t, n]) => `${t} ${n}`).join(", ")}`] : []),
  ].join("\n");
}

/** Reads a truth NDJSON file (one Episode per line; blank lines ignored). */
export async function readTruth(path: string): Promise<Episode[]> {
  const text = await Deno.readTextFile(path);
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Episode);
}

/**
 * The latest committed rows of `gold/<table>`: `id` and `label` (the rule, or the rules) as
 * strings, with what every detection has, times in epoch ms.
 */
async function readDetections(lakehouse: string, table: string, id: string, label: string) {
  const snap = await loadSnapshot(goldTablePath(lakehouse, table), { tombstones: false });
  const db = await openDuckDB({ delta: false });
  try {
    const rows = (await db.conn.runAndReadAll(
      `SELECT ${id}, ${label}, severity, device_id, building, epoch_ms(started_at) AS s,
         epoch_ms(ended_at) AS e, type FROM (${snapshotScanSql(snap)}) ORDER BY started_at`,
    )).getRows();
    return rows.map((r) => ({
      id: String(r[0]),
      label: String(r[1]),
      severity: String(r[2]),
      device_id: r[3] === null ? null : String(r[3]),
      building: String(r[4]),
      started_at: Number(r[5]),
      ended_at: r[6] === null ? null : Number(r[6]),
      type: r[7] === null ? null : String(r[7]),
    }));
  } finally {
    db.close();
  }
}

/** Reads the latest committed `gold/alarms` of a lakehouse. */
export async function readAlarms(lakehouse: string): Promise<ScoredAlarm[]> {
  return (await readDetections(lakehouse, "alarms", "alarm_id", "rule")).map((
    { id, label, ...d },
  ) => ({ alarm_id: id, rule: label, ...d }));
}

/** Reads the latest committed `gold/incidents` of a lakehouse. */
export async function readIncidents(lakehouse: string): Promise<ScoredIncident[]> {
  return (await readDetections(lakehouse, "incidents", "incident_id", "rules")).map((
    { id, label, ...d },
  ) => ({ incident_id: id, rules: label.split(",").filter(Boolean), ...d }));
}
