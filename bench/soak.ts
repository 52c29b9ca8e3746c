/**
 * Soak (issue 28 point 4): steady state at building-fleet scale. 5,200 devices (10 buildings ×
 * 10 floors × 13 per type) at 1 reading/s each, produced at `rate` msg/s with the `light` fault
 * profile, while the real long-running tasks run as processes: `consume`, `gold --watch` and the
 * dashboard (polled for its state at each sample, as an open page would). Every 10 s each
 * process's RSS is read (`ps -o rss=`, VmRSS); gold's cycle times come from its stdout lines.
 * Each sample also counts the active files per ingest table (in its latest snapshot: what a
 * reader opens). At the end: RSS start/peak/end and the slope over the last half per process
 * (≈ 0 when flat after warm-up), gold cycle p50/p95/max, active files per table over time (and
 * their peak), and the data files per table on disk (compacted-away files stay there until
 * vacuum).
 *
 * @module
 */
import { join } from "node:path";
import { brokerList } from "../src/config.ts";
import { createKafka } from "../src/kafka/client.ts";
import { ensureTopic, produce } from "../src/kafka/producer.ts";
import { createSimulator } from "../src/simulator/simulator.ts";
import { consumeArgs, freePort, spawnTask } from "../src/tasks.ts";
import { loadSnapshot } from "../src/delta/snapshot.ts";
import { INGEST_TABLES } from "../src/pipeline/tables.ts";
import {
  eachLine,
  goldCycles,
  loadavg,
  rssBytes,
  stopChildren,
  summary,
} from "./task_processes.ts";

/** Seconds between two RSS samples. */
const SAMPLE_S = 10;

/** What one soak run is given. */
export interface SoakOptions {
  brokers: string;
  topic: string;
  /** A fresh lakehouse directory. */
  lakehouse: string;
  minutes: number;
  /** msg/s (the fleet sends 5,200/s at 1 reading/s per device). */
  rate: number;
  deno?: string;
  log?: (line: string) => void;
}

/** One process's RSS over the run, MiB. */
export interface RssFigures {
  startMiB: number | null;
  peakMiB: number | null;
  endMiB: number | null;
  /** Least-squares slope over the last half of the samples, MiB per minute. */
  lastHalfSlopeMiBPerMin: number | null;
  /** Every sample: [seconds since start, MiB]. */
  samples: [number, number][];
}

/** Least-squares slope of y over x (null with fewer than two points). */
export function slope(points: [number, number][]): number | null {
  if (points.length < 2) return null;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  const sxx = points.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
  if (sxx === 0) return null;
  return points.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0) / sxx;
}

function rssFigures(samples: [number, number][]): RssFigures {
  const mib = samples.map(([t, b]) => [t, Number((b / 1048576).toFixed(1))] as [number, number]);
  const half = mib.slice(Math.floor(mib.length / 2));
  const s = slope(half.map(([t, m]) => [t / 60, m]));
  return {
    startMiB: mib[0]?.[1] ?? null,
    peakMiB: mib.length ? Math.max(...mib.map((x) => x[1])) : null,
    endMiB: mib.at(-1)?.[1] ?? null,
    lastHalfSlopeMiBPerMin: s === null ? null : Number(s.toFixed(2)),
    samples: mib,
  };
}

/** Data files (.parquet outside _delta_log) under each table directory of `lakehouse`. */
export async function filesPerTable(lakehouse: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const count = async (dir: string): Promise<number> => {
    let n = 0;
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory && e.name !== "_delta_log") n += await count(join(dir, e.name));
      else if (e.isFile && e.name.endsWith(".parquet")) n++;
    }
    return n;
  };
  const walk = async (dir: string, name: string): Promise<void> => {
    const entries = await Array.fromAsync(Deno.readDir(dir)).catch(() => []);
    if (entries.some((e) => e.isDirectory && e.name === "_delta_log")) {
      out[name] = await count(dir);
      return;
    }
    for (const e of entries) {
      if (e.isDirectory) await walk(join(dir, e.name), name ? `${name}/${e.name}` : e.name);
    }
  };
  await walk(lakehouse, "");
  return out;
}

/** Active files (latest snapshot) of each ingest table that exists yet. */
async function activeFiles(lakehouse: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of INGEST_TABLES) {
    const snap = await loadSnapshot(join(lakehouse, t), { tombstones: false }).catch(() => null);
    if (snap) out[t] = snap.files.length;
  }
  return out;
}

/** Runs one soak: see the module doc. */
export async function soak(o: SoakOptions) {
  const log = (l: string) => (o.log ?? console.error)(`soak: ${l}`);
  const kafka = createKafka({ brokers: brokerList(o.brokers), clientId: "bench-soak" });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopic(admin, o.topic, 3).finally(() => admin.disconnect());
  await Deno.mkdir(o.lakehouse, { recursive: true });
  const load0 = loadavg();
  const spawn = (task: string, args: string[]) =>
    spawnTask(task, args, {}, { stdout: "piped", stderr: "piped", deno: o.deno });
  const dashboardPort = freePort();
  const children: Record<string, Deno.ChildProcess> = {
    consume: spawn(
      "consume",
      consumeArgs({
        brokers: o.brokers,
        topic: o.topic,
        lakehouse: o.lakehouse,
        group: `${o.topic}-g`,
      }),
    ),
    gold: spawn("gold", ["--lakehouse", o.lakehouse, "--watch"]),
    dashboard: spawn("dashboard", ["--lakehouse", o.lakehouse, "--port", String(dashboardPort)]),
  };
  const cycles = goldCycles();
  /** consume's final summary (its last stdout line, JSON): compactions, files compacted. */
  let consumeSummary: Record<string, unknown> | null = null;
  const onConsumeLine = (l: string) => {
    try {
      consumeSummary = JSON.parse(l);
    } catch {
      // Not the summary.
    }
  };
  const tails: Record<string, string[]> = {};
  const drained = Object.entries(children).flatMap(([name, child]) => {
    tails[name] = [];
    const keep = (l: string) => tails[name].push(l) > 20 && tails[name].shift();
    return [
      eachLine(
        child.stdout,
        name === "gold" ? cycles.onLine : name === "consume" ? onConsumeLine : () => {},
      ),
      eachLine(child.stderr, keep),
    ];
  });
  const rss: Record<string, [number, number][]> = { consume: [], gold: [], dashboard: [] };
  const dashboard = { polls: 0, ok: 0, ms: [] as number[] };
  /** [seconds since start, active files per table]. */
  const files: [number, Record<string, number>][] = [];
  const t0 = performance.now();
  const sample = async () => {
    const t = Math.round((performance.now() - t0) / 1000);
    for (const [name, child] of Object.entries(children)) {
      const b = await rssBytes(child.pid);
      if (b !== null) rss[name].push([t, b]);
    }
    files.push([t, await activeFiles(o.lakehouse)]);
    const q0 = performance.now();
    dashboard.polls++;
    const r = await fetch(`http://127.0.0.1:${dashboardPort}/api/state`).catch(() => null);
    await r?.body?.cancel();
    if (r?.ok) {
      dashboard.ok++;
      dashboard.ms.push(performance.now() - q0);
    }
  };
  const stop = new AbortController();
  let sent = 0;
  try {
    const seconds = o.minutes * 60;
    const sim = createSimulator({
      seed: 28,
      start: Math.floor(Date.now() / 1000) * 1000,
      intervalSeconds: 1,
      count: Math.round(o.rate * seconds),
      faults: "light",
      topology: { buildings: 10, floors: 10, devicesPerFloor: 13 },
    });
    log(`${sim.topology.devices.length} devices, ${o.rate} msg/s for ${o.minutes} min`);
    const timer = setInterval(() => void sample(), SAMPLE_S * 1000);
    await sample();
    try {
      sent = (await produce(kafka, o.topic, sim, { rate: o.rate, signal: stop.signal })).sent;
      // Let consume and gold take the last messages in before the final sample.
      await new Promise((r) => setTimeout(r, SAMPLE_S * 1000));
    } finally {
      clearInterval(timer);
    }
    await sample();
  } finally {
    stop.abort();
  }
  const exitCodes = await stopChildren(children);
  await Promise.all(drained).catch(() => {});
  const result = {
    minutes: o.minutes,
    rate: o.rate,
    sent,
    rssMiB: Object.fromEntries(Object.entries(rss).map(([n, s]) => [n, rssFigures(s)])),
    gold: cycles.figures(),
    dashboard: { polls: dashboard.polls, ok: dashboard.ok, stateMs: summary(dashboard.ms) },
    consume: consumeSummary && {
      compactions: (consumeSummary as Record<string, unknown>).compactions,
      filesCompacted: (consumeSummary as Record<string, unknown>).filesCompacted,
    },
    filesPerTable: await filesPerTable(o.lakehouse),
    activeFiles: {
      peak: Object.fromEntries(
        INGEST_TABLES.map((t) => [t, Math.max(0, ...files.map(([, f]) => f[t] ?? 0))]),
      ),
      end: files.at(-1)?.[1] ?? {},
      samples: files,
    },
    exitCodes,
    loadavgBefore: load0,
    loadavgAfter: loadavg(),
    /** The last stderr lines of a process that did not exit 0 (why). */
    logs: Object.fromEntries(
      Object.entries(exitCodes).filter(([, c]) => c !== 0).map(([n]) => [n, tails[n].slice(-5)]),
    ),
  };
  log(`done: ${sent} sent, exit codes ${JSON.stringify(exitCodes)}`);
  return result;
}
