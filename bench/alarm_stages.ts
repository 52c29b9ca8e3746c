/**
 * Where an alarm's seconds go (issue 28 point 3): the alarm-latency bench's path from the
 * completing reading to the webhook, split into stages from what the run leaves behind — the
 * Delta logs of silver and of gold's alarms and incidents tables (each commit file's mtime, and
 * the silver version a gold commit was computed from, its `txn`), and gold --watch's cycle lines:
 *
 * - `consume`: reading handed to kafkajs → the silver commit holding it (consume's flush policy,
 *   the write and the commit);
 * - `wait`: that commit → the start of the gold cycle that read it (a cycle in progress, then
 *   the ~100 ms probe of silver's next version);
 * - `alarms`: cycle start → gold/alarms committed at that silver version (every table the
 *   cycle refreshes before the alarms included);
 * - `incidents`: → gold/incidents committed;
 * - `notify`: → the webhook POST arriving (the notifier's read of the incidents table, its
 *   outbox and the POST).
 *
 * The silver commit holding a reading is found in the bench building's parquet files (its device
 * and event time), so a Kafka partition lagging the others is seen as such.
 *
 * @module
 */
import { join } from "node:path";
import { openDuckDB, sqlString } from "../src/duckdb/engine.ts";
import { percentile } from "./stats.ts";

/** One committed version of a table: when its commit file appeared and what it carries. */
interface LogEntry {
  version: number;
  /** Commit file mtime, epoch ms. */
  at: number;
  /** Silver version of the gold commit's txn (gold tables). */
  silverVersion?: number;
  /** Paths (relative to the table) of the bench building's files it added (silver). */
  benchFiles?: string[];
}

/** A gold --watch cycle as its stdout line said it: started at (epoch ms) over a silver version. */
export interface GoldCycle {
  silverVersion: number;
  startedAt: number;
}

/** An episode's known times (epoch ms): reading sent, its event time, webhook arrival. */
export interface EpisodeTimes {
  device: string;
  sentAt: number;
  eventMs: number;
  arrivedAt: number;
}

export const STAGES = ["consume", "wait", "alarms", "incidents", "notify"] as const;
type Stage = typeof STAGES[number];

/** Reads every commit of a local Delta table's log. */
async function readLog(table: string, building?: string): Promise<LogEntry[]> {
  const dir = join(table, "_delta_log");
  const out: LogEntry[] = [];
  for await (const e of Deno.readDir(dir)) {
    const m = /^(\d{20})\.json$/.exec(e.name);
    if (!m) continue;
    const file = join(dir, e.name);
    const [text, stat] = await Promise.all([Deno.readTextFile(file), Deno.stat(file)]);
    const entry: LogEntry = { version: Number(m[1]), at: stat.mtime?.getTime() ?? 0 };
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      const a = JSON.parse(line);
      if (a.txn) entry.silverVersion = Math.max(entry.silverVersion ?? -1, Number(a.txn.version));
      if (building && a.add?.partitionValues?.building === building) {
        (entry.benchFiles ??= []).push(decodeURIComponent(a.add.path));
      }
    }
    out.push(entry);
  }
  return out.sort((a, b) => a.version - b.version);
}

/**
 * For each episode, the silver version whose files hold its completing reading (its device at
 * its event time), read from the bench building's parquet files; undefined when none does.
 */
async function versionsHolding(
  table: string,
  log: LogEntry[],
  episodes: EpisodeTimes[],
): Promise<(number | undefined)[]> {
  const fileVersion = new Map<string, number>();
  for (const e of log) {
    for (const f of e.benchFiles ?? []) fileVersion.set(join(table, f), e.version);
  }
  if (fileVersion.size === 0 || episodes.length === 0) return episodes.map(() => undefined);
  const db = await openDuckDB({ delta: false });
  try {
    const wanted = episodes.map((ep, i) =>
      `(${i}, ${sqlString(ep.device)}, epoch_ms(${ep.eventMs}::BIGINT)::TIMESTAMPTZ)`
    );
    const rows = (await db.conn.runAndReadAll(
      `SELECT w.i, p.filename FROM read_parquet([${
        [...fileVersion.keys()].map(sqlString).join(", ")
      }], filename = true, hive_partitioning = false) p
       JOIN (VALUES ${wanted.join(", ")}) AS w(i, device, ts)
         ON p.device_id = w.device AND p.timestamp = w.ts`,
    )).getRows();
    const out: (number | undefined)[] = episodes.map(() => undefined);
    for (const [i, file] of rows) {
      const v = fileVersion.get(String(file));
      const k = Number(i);
      if (v !== undefined && (out[k] === undefined || v < out[k]!)) out[k] = v;
    }
    return out;
  } finally {
    db.close();
  }
}

/** First gold commit computed from silver `version` or later. */
function goldAt(log: LogEntry[], version: number): LogEntry | undefined {
  return log.find((e) => (e.silverVersion ?? -1) >= version);
}

/** Per stage p50/p95/p99/max seconds over the episodes, and each episode's split. */
export async function alarmStages(
  lakehouse: string,
  building: string,
  cycles: GoldCycle[],
  episodes: EpisodeTimes[],
): Promise<{
  stageSeconds: Record<Stage, Record<"p50" | "p95" | "p99" | "max", number | null>>;
  perEpisode: (Record<Stage, number | null>)[];
}> {
  const [silver, alarms, incidents] = await Promise.all([
    readLog(join(lakehouse, "silver"), building),
    readLog(join(lakehouse, "gold", "alarms")).catch(() => []),
    readLog(join(lakehouse, "gold", "incidents")).catch(() => []),
  ]);
  const holding = await versionsHolding(join(lakehouse, "silver"), silver, episodes);
  const perEpisode = episodes.map((ep, k) => {
    const s = silver.find((e) => e.version === holding[k]);
    const cycle = s && cycles.find((c) => c.silverVersion >= s.version);
    const a = s && goldAt(alarms, s.version);
    const i = s && goldAt(incidents, s.version);
    const d = (from?: number, to?: number) =>
      from === undefined || to === undefined ? null : Number(((to - from) / 1000).toFixed(3));
    return {
      consume: d(ep.sentAt, s?.at),
      wait: d(s?.at, cycle?.startedAt),
      alarms: d(cycle?.startedAt, a?.at),
      incidents: d(a?.at, i?.at),
      notify: d(i?.at, ep.arrivedAt),
    };
  });
  const q = (xs: number[], p: number) => xs.length ? Number(percentile(xs, p).toFixed(3)) : null;
  const stageSeconds = Object.fromEntries(STAGES.map((st) => {
    const xs = perEpisode.map((e) => e[st]).filter((x): x is number => x !== null);
    return [st, {
      p50: q(xs, 50),
      p95: q(xs, 95),
      p99: q(xs, 99),
      max: xs.length ? Math.max(...xs) : null,
    }];
  })) as Record<Stage, Record<"p50" | "p95" | "p99" | "max", number | null>>;
  return { stageSeconds, perEpisode };
}

/** The split as lines for a terminal: `stage  p50  p95  p99  max`. */
export function stageTable(
  stageSeconds: Record<Stage, Record<"p50" | "p95" | "p99" | "max", number | null>>,
): string[] {
  const f = (x: number | null) => (x === null ? "–" : x.toFixed(2)).padStart(6);
  return [
    `${"stage".padEnd(10)} ${"p50".padStart(6)} ${"p95".padStart(6)} ${"p99".padStart(6)} ${
      "max".padStart(6)
    }`,
    ...STAGES.map((st) => {
      const s = stageSeconds[st];
      return `${st.padEnd(10)} ${f(s.p50)} ${f(s.p95)} ${f(s.p99)} ${f(s.max)}`;
    }),
  ];
}
