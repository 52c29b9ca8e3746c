/**
 * Fault scenarios against the real broker and the real `consume` task, shared by the short
 * suite (tests/chaos_test.ts) and the long form (`scripts/chaos.ts`).
 *
 * Every scenario ingests a seeded mix whose outcome is known from how it was built (makeMix),
 * injects one kind of fault, and then judges the lakehouse only through what an outside reader
 * sees (DuckDB's delta_scan): each (topic, partition, offset) once in bronze, each valid
 * distinct reading once in silver, each reject once in quarantine, and every table version
 * readable. A scenario never throws on a wrong result: it returns the problems it found, so
 * the long form can report all of them and the test can assert there are none.
 */
import { join } from "node:path";
import type { Kafka } from "kafkajs";
import { readEnv } from "../config.ts";
import { createKafka } from "../kafka/client.ts";
import { startLocalBroker, stopLocalBroker } from "../kafka/local_broker.ts";
import { ensureTopic, produce } from "../kafka/producer.ts";
import { optimize } from "../delta/optimize.ts";
import { listLog } from "../delta/log.ts";
import { loadSnapshot } from "../delta/snapshot.ts";
import { openDuckDB, sqlString } from "../duckdb/engine.ts";
import { Prng } from "../simulator/prng.ts";
import { makeMix, type Mix, produceMix, type TableCounts, tableCounts } from "./mix.ts";
import { consumeArgs, ROOT, spawnTask, type TaskResult } from "../tasks.ts";

/** The three tables every check covers. */
export const TABLES = ["bronze", "silver", "quarantine"] as const;

/** What one scenario proved (or failed to): the figures of the closing note. */
export interface ScenarioReport {
  scenario: string;
  messages: number;
  /** SIGKILLs delivered to a consume process that was still running. */
  kills: number;
  /** Expected rows missing from bronze, silver or quarantine. */
  lost: number;
  /** Rows beyond one per source coordinate / reading. */
  duplicates: number;
  /** Table versions read back with delta_scan(path, version := v). */
  versionsChecked: number;
  /** Empty when the scenario held; otherwise each broken guarantee, with its numbers. */
  problems: string[];
  seconds: number;
  details: Record<string, number | string>;
}

/** Progress lines of a scenario (stderr in the long form, silent in tests unless asked). */
export type Log = (line: string) => void;

/** Expected outcome of a mix (or of what actually reached the topic). */
export interface Expected {
  messages: number;
  valid: number;
  duplicates: number;
  rejects: Record<string, number>;
}

/** The outcome makeMix built in. */
export function expectedOf(mix: Mix): Expected {
  return {
    messages: mix.messages.length,
    valid: mix.valid,
    duplicates: mix.duplicates,
    rejects: mix.rejects,
  };
}

/**
 * Compares counts with the expected outcome. Lost and duplicated rows are counted separately
 * per table so a report says which guarantee broke, not only that a number differs.
 */
export function exactness(
  c: TableCounts,
  e: Expected,
): { lost: number; duplicates: number; problems: string[] } {
  const rejects = Object.values(e.rejects).reduce((a, b) => a + b, 0);
  const problems: string[] = [];
  const check = (what: string, got: number, want: number) => {
    if (got !== want) problems.push(`${what}: ${got}, expected ${want}`);
  };
  check("bronze rows", c.bronze, e.messages);
  check("bronze distinct (topic, partition, offset)", c.bronzeDistinctCoords, e.messages);
  check("bronze status=duplicate", c.bronzeDuplicates, e.duplicates);
  check("silver rows", c.silver, e.valid);
  check("silver distinct (device_id, type, timestamp)", c.silverDistinctKeys, e.valid);
  check("quarantine rows", c.quarantine, rejects);
  check("quarantine distinct coordinates", c.quarantineDistinctCoords, rejects);
  const reasons = new Set([...Object.keys(c.reasons), ...Object.keys(e.rejects)]);
  for (const r of [...reasons].sort()) {
    check(`quarantine reason ${r}`, c.reasons[r] ?? 0, e.rejects[r] ?? 0);
  }
  if (c.bronze !== c.silver + c.quarantine + c.bronzeDuplicates) {
    problems.push(
      `accounting: bronze ${c.bronze} != silver ${c.silver} + quarantine ${c.quarantine} + ` +
        `duplicates ${c.bronzeDuplicates}`,
    );
  }
  const lost = Math.max(0, e.messages - c.bronzeDistinctCoords) +
    Math.max(0, e.valid - c.silverDistinctKeys) +
    Math.max(0, rejects - c.quarantineDistinctCoords);
  const duplicates = (c.bronze - c.bronzeDistinctCoords) + (c.silver - c.silverDistinctKeys) +
    (c.quarantine - c.quarantineDistinctCoords);
  return { lost, duplicates, problems };
}

/** Latest committed version of a table, -1 before it exists. */
export async function latestVersion(tablePath: string): Promise<number> {
  const { commits } = await listLog(tablePath);
  return commits.at(-1) ?? -1;
}

/** Versions to read: all of them, or a seeded sample that always keeps the first and last. */
function pickVersions(latest: number, sample: number | undefined, prng: Prng): number[] {
  const all = Array.from({ length: latest + 1 }, (_, v) => v);
  if (sample === undefined || sample >= all.length) return all;
  const picked = new Set([0, latest]);
  while (picked.size < sample) picked.add(prng.int(0, latest));
  return [...picked].sort((a, b) => a - b);
}

/**
 * Reads table versions back: every commit file must be complete JSON (no half-written
 * commit), and `delta_scan(path, version := v)` must answer for each checked version with a
 * row count that never decreases (the tables are append-only; optimize keeps counts).
 */
export async function checkVersions(
  lakehouse: string,
  opts: { sample?: number; seed?: number } = {},
): Promise<{ checked: number; problems: string[] }> {
  const problems: string[] = [];
  const prng = new Prng(opts.seed ?? 1);
  let checked = 0;
  const db = await openDuckDB();
  try {
    for (const table of TABLES) {
      const path = join(lakehouse, table);
      const { commits } = await listLog(path);
      for (let i = 0; i < commits.length; i++) {
        if (commits[i] !== i) {
          problems.push(`${table}: commit versions have a gap before ${commits[i]}`);
          break;
        }
      }
      for (const v of commits) {
        const text = await Deno.readTextFile(
          join(path, "_delta_log", `${String(v).padStart(20, "0")}.json`),
        );
        const lines = text.split("\n").filter((l) => l.trim() !== "");
        try {
          for (const l of lines) JSON.parse(l);
          if (!lines.some((l) => l.includes('"commitInfo"'))) throw new Error("no commitInfo");
        } catch (err) {
          problems.push(`${table} version ${v}: incomplete commit file (${err})`);
        }
      }
      let previous = -1;
      for (const v of pickVersions(commits.at(-1) ?? -1, opts.sample, prng)) {
        try {
          const rows = await db.conn.runAndReadAll(
            `SELECT count(*) FROM delta_scan(${sqlString(path)}, version := ${v})`,
          );
          const n = Number(rows.getRows()[0][0]);
          if (n < previous) problems.push(`${table} version ${v}: ${n} rows, fewer than before`);
          previous = n;
          checked++;
        } catch (err) {
          problems.push(`${table} version ${v} unreadable by delta_scan: ${err}`);
        }
      }
    }
  } finally {
    db.close();
  }
  return { checked, problems };
}

/** Arguments every consume run of a scenario shares. */
function chaosConsumeArgs(
  brokers: string,
  topic: string,
  lakehouse: string,
  group: string,
): string[] {
  return consumeArgs({ brokers, topic, lakehouse, group, sessionTimeoutMs: 6000 });
}

/** A spawned task whose output is drained from the start (a full pipe would stall it). */
export interface Running {
  child: Deno.ChildProcess;
  result: Promise<TaskResult & { signal: Deno.Signal | null }>;
  exited: boolean;
}

/** Reads a stream to its end, handing each line to `onLine` as it arrives. */
async function drain(stream: ReadableStream<Uint8Array>, onLine?: Log): Promise<string> {
  let text = "";
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    if (!onLine) continue;
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const l of lines) onLine(l);
  }
  if (onLine && pending) onLine(pending);
  return text;
}

/**
 * Spawns a task and drains its output at once; `echo` receives its stderr lines live (the
 * long form's --verbose), which shows where a stuck process is stuck.
 */
export function start(task: string, args: string[], echo?: Log): Running {
  const child = spawnTask(task, args);
  const r: Running = { child, exited: false, result: null! };
  const out = drain(child.stdout);
  const err = drain(child.stderr, echo);
  r.result = Promise.all([child.status, out, err]).then(([s, stdout, stderr]) => {
    r.exited = true;
    return { code: s.code, signal: s.signal, stdout, stderr };
  });
  return r;
}

/** SIGKILLs a running task; true when it was still running (a kill survived, not a no-op). */
export async function sigkill(r: Running): Promise<boolean> {
  if (r.exited) return false;
  try {
    r.child.kill("SIGKILL");
  } catch {
    return false;
  }
  const res = await r.result;
  return res.signal === "SIGKILL";
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A port whose next `count - 1` ports are free too (broker, controller, extra listener), so
 * parallel runs of the suites never start two brokers on one port — nor near 9092.
 */
export function freePorts(count = 2): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 9_000) * 4;
    const held: Deno.Listener[] = [];
    try {
      for (let i = 0; i < count; i++) {
        held.push(Deno.listen({ hostname: "127.0.0.1", port: base + i }));
      }
      return base;
    } catch {
      // taken: try another
    } finally {
      for (const l of held) l.close();
    }
  }
  throw new Error("no free port range found");
}

/** Polls `cond` every `everyMs` until true or the deadline; returns whether it became true. */
export async function waitFor(
  cond: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await sleep(everyMs);
  }
  return await cond();
}

/**
 * True when the tables hold every offset below each partition's high watermark: the
 * consumer's own caught-up rule, read from the Delta log (cheaper than counting rows).
 */
export async function tablesCaughtUp(
  lakehouse: string,
  topic: string,
  highs: Map<number, number>,
  appName = "smarttech",
): Promise<boolean> {
  try {
    const snaps = await Promise.all(TABLES.map((t) => loadSnapshot(join(lakehouse, t))));
    for (const [p, high] of highs) {
      const appId = `${appName}-${topic}-${p}`;
      for (const s of snaps) {
        if (high > 0 && (s.txnVersion(appId) ?? -1) < high - 1) return false;
      }
    }
    return true;
  } catch {
    return false;
  }
}

/** High watermark per partition. */
export async function highWatermarks(kafka: Kafka, topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const m = new Map<number, number>();
    for (const p of await admin.fetchTopicOffsets(topic)) m.set(p.partition, Number(p.high));
    return m;
  } finally {
    await admin.disconnect();
  }
}

/**
 * The expected outcome of what actually reached the topic, for producers that are only
 * at-least-once: a batch re-sent after a lost acknowledgement adds messages the mix did not
 * plan. Classifies every message by its value: the first copy of a valid reading is valid,
 * later copies are duplicates; every copy of a reject is a reject.
 */
export async function expectedFromTopic(
  kafka: Kafka,
  topic: string,
  mix: Mix,
): Promise<Expected> {
  const reasonOf = new Map<string, string>();
  // makeMix's rejects are recognisable from their content alone.
  const classify = (value: string): string => {
    try {
      const o = JSON.parse(value);
      if (o.value === undefined) return "missing_field:value";
      if (o.type === "radiation") return "unknown_type";
      return "valid_or_range";
    } catch {
      return "malformed_json";
    }
  };
  for (const m of mix.messages) reasonOf.set(m.value, classify(m.value));
  const highs = await highWatermarks(kafka, topic);
  const total = [...highs.values()].reduce((a, b) => a + b, 0);
  const e: Expected = { messages: total, valid: 0, duplicates: 0, rejects: {} };
  const consumer = kafka.consumer({ groupId: `chaos-verify-${crypto.randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let read = 0;
  const firstSeen = new Set<string>();
  await new Promise<void>((resolve, reject) => {
    consumer.run({
      eachMessage: ({ message }) => {
        const v = message.value?.toString("utf8") ?? "";
        let reason = reasonOf.get(v) ?? "unknown";
        if (reason === "valid_or_range") {
          const o = JSON.parse(v);
          const inRange = o.type === "co2"
            ? o.value <= 10000
            : o.type === "humidity"
            ? o.value <= 100
            : o.type === "energy"
            ? o.value >= 0
            : o.unit === "F"
            ? (o.value - 32) * 5 / 9 <= 85
            : o.value <= 85;
          reason = inRange ? "valid" : "out_of_range";
        }
        if (reason === "valid") {
          if (firstSeen.has(v)) e.duplicates++;
          else {
            firstSeen.add(v);
            e.valid++;
          }
        } else e.rejects[reason] = (e.rejects[reason] ?? 0) + 1;
        if (++read >= total) resolve();
        return Promise.resolve();
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  return e;
}

/** Final judgement shared by every scenario. */
async function judge(
  report: ScenarioReport,
  lakehouse: string,
  expected: Expected,
  versionSample: number | undefined,
  seed: number,
): Promise<void> {
  const counts = await tableCounts(lakehouse);
  const ex = exactness(counts, expected);
  report.lost = ex.lost;
  report.duplicates = ex.duplicates;
  report.problems.push(...ex.problems);
  const v = await checkVersions(lakehouse, { sample: versionSample, seed });
  report.versionsChecked = v.checked;
  report.problems.push(...v.problems);
  report.details.bronze = counts.bronze;
  report.details.silver = counts.silver;
  report.details.quarantine = counts.quarantine;
}

function newReport(scenario: string, messages: number): ScenarioReport {
  return {
    scenario,
    messages,
    kills: 0,
    lost: 0,
    duplicates: 0,
    versionsChecked: 0,
    problems: [],
    seconds: 0,
    details: {},
  };
}

const short = () => crypto.randomUUID().slice(0, 8);

// ---------------------------------------------------------------------------------------------
// a. SIGKILL at seeded random moments
// ---------------------------------------------------------------------------------------------

export interface KillOptions {
  brokers: string;
  messages: number;
  kills: number;
  seed: number;
  /** Small batches: more commits, so kills land between and inside them. */
  maxRows: number;
  partitions?: number;
  devices?: number;
  /** Longest seeded delay between the victim's first commit and the kill, ms. */
  maxDelayMs?: number;
  /**
   * Which group each restart joins: "same" (a restarted pod; waits out the dead member's
   * session), "fresh" (positions then come only from the tables), or "alternate".
   */
  groupMode?: "same" | "fresh" | "alternate";
  /** Versions read back per table (all when undefined). */
  versionSample?: number;
  log?: Log;
  keep?: boolean;
}

/**
 * Starts `consume` again and again on one backlog, SIGKILLing each run at a seeded moment
 * after it committed something new (so kills land inside Parquet writes, between the bronze
 * and silver commits, during checkpoints …), then catches up once and judges the tables.
 */
export async function killScenario(o: KillOptions): Promise<ScenarioReport> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const report = newReport("sigkill", o.messages);
  const topic = `chaos-kill-${short()}`;
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-chaos-kill-" });
  const bronze = join(lakehouse, "bronze");
  const mix = makeMix(o.messages, o.devices ?? 60);
  await produceMix([o.brokers], topic, mix, o.partitions ?? 3);
  log(`kill: produced ${mix.messages.length} messages to ${topic}; lakehouse ${lakehouse}`);
  const prng = new Prng(o.seed);
  const group = `g-${topic}`;
  const mode = o.groupMode ?? "same";
  // About two thirds of the stream's flushes happen before the last kill, on average.
  const flushes = o.messages / o.maxRows;
  const spread = Math.max(1, Math.floor(flushes / (o.kills * 1.5)));
  try {
    for (let k = 0; k < o.kills; k++) {
      const fresh = mode === "fresh" || (mode === "alternate" && k % 2 === 1);
      const before = await latestVersion(bronze);
      const run = start("consume", [
        ...chaosConsumeArgs(o.brokers, topic, lakehouse, fresh ? `${group}-r${k}` : group),
        "--max-rows",
        String(o.maxRows),
      ]);
      // Kills spread over the whole stream: a seeded number of new commits (mean `spread`),
      // then a seeded delay, so they land anywhere in a flush (Parquet write, between the
      // bronze and silver commits, a checkpoint …).
      const commits = prng.int(1, 2 * spread - 1);
      const progressed = await waitFor(
        async () => run.exited || await latestVersion(bronze) >= Math.max(0, before + commits),
        90_000,
      );
      if (!progressed || run.exited) {
        const r = await (run.exited ? run.result : (sigkill(run), run.result));
        report.problems.push(
          `run ${k}: no new commit before the kill (exit ${r.code}): ${r.stderr.slice(-500)}`,
        );
        break;
      }
      const delay = prng.int(0, o.maxDelayMs ?? 400);
      await sleep(delay);
      if (await sigkill(run)) report.kills++;
      else report.problems.push(`run ${k}: exited on its own before the kill`);
      log(
        `kill ${
          k + 1
        }/${o.kills}: SIGKILL ${delay} ms after ${commits} commit(s) (bronze v${await latestVersion(
          bronze,
        )}, ${fresh ? "fresh" : "same"} group)`,
      );
    }
    const partial = await tableCounts(lakehouse);
    report.details.bronzeBeforeCatchUp = partial.bronze;
    if (partial.bronze >= mix.messages.length) {
      report.problems.push(
        "the stream was fully ingested before the last kill: kills not mid-stream",
      );
    }
    const last = start("consume", [
      ...chaosConsumeArgs(o.brokers, topic, lakehouse, group),
      "--until-caught-up",
      "--max-rows",
      String(Math.max(o.maxRows, 20_000)),
    ]);
    const r = await last.result;
    if (r.code !== 0) report.problems.push(`catch-up exited ${r.code}: ${r.stderr.slice(-800)}`);
    log(`kill: caught up; judging ${lakehouse}`);
    await judge(report, lakehouse, expectedOf(mix), o.versionSample, o.seed);
  } finally {
    report.seconds = (performance.now() - t0) / 1000;
    if (!o.keep) await Deno.remove(lakehouse, { recursive: true }).catch(() => {});
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// b. Three consumers in one group, optimize alongside, one killed
// ---------------------------------------------------------------------------------------------

export interface GroupOptions {
  brokers: string;
  messages: number;
  consumers?: number;
  seed: number;
  maxRows: number;
  partitions?: number;
  /** Bronze commits to wait for before killing one consumer. */
  killAfterCommits?: number;
  versionSample?: number;
  log?: Log;
  keep?: boolean;
}

/**
 * Several `consume --until-caught-up` processes share one group while this process runs
 * optimize on bronze and silver in a loop; one consumer is SIGKILLed mid-way. The survivors
 * must take over its partitions after the session timeout and finish exactly.
 */
export async function groupScenario(o: GroupOptions): Promise<ScenarioReport> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const report = newReport("group+optimize", o.messages);
  const topic = `chaos-group-${short()}`;
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-chaos-group-" });
  const bronze = join(lakehouse, "bronze");
  const mix = makeMix(o.messages, 60);
  const n = o.consumers ?? 3;
  await produceMix([o.brokers], topic, mix, o.partitions ?? 6);
  const group = `g-${topic}`;
  const runs = Array.from(
    { length: n },
    () =>
      start("consume", [
        ...chaosConsumeArgs(o.brokers, topic, lakehouse, group),
        "--until-caught-up",
        "--max-rows",
        String(o.maxRows),
      ]),
  );
  const optimized = { bronze: 0, silver: 0 };
  let stop = false;
  const optimizer = (async () => {
    await waitFor(async () => await latestVersion(bronze) >= 1 || stop, 60_000);
    while (!stop) {
      for (const t of ["bronze", "silver"] as const) {
        try {
          const r = await optimize(join(lakehouse, t));
          if (r.version !== undefined) optimized[t]++;
        } catch (err) {
          report.problems.push(`optimize ${t}: ${err}`);
        }
      }
      await sleep(200);
    }
  })();
  try {
    const atLeast = (o.killAfterCommits ?? 4) + 1;
    await waitFor(async () => await latestVersion(bronze) >= atLeast || runs[0].exited, 90_000);
    if (await sigkill(runs[0])) report.kills++;
    else report.problems.push("consumer 0 had already exited: the kill was not mid-way");
    log(`group: killed consumer 0 at bronze v${await latestVersion(bronze)}`);
    const results = await Promise.all(runs.slice(1).map((r) => r.result));
    results.forEach((r, i) => {
      if (r.code !== 0) {
        report.problems.push(`consumer ${i + 1} exited ${r.code}: ${r.stderr.slice(-800)}`);
      }
    });
  } finally {
    stop = true;
    await optimizer;
    for (const r of runs) await sigkill(r);
  }
  report.details.optimizeBronze = optimized.bronze;
  report.details.optimizeSilver = optimized.silver;
  if (optimized.bronze === 0 || optimized.silver === 0) {
    report.problems.push(
      `optimize never committed while consuming (bronze ${optimized.bronze}, silver ${optimized.silver})`,
    );
  }
  try {
    await judge(report, lakehouse, expectedOf(mix), o.versionSample, o.seed);
  } finally {
    report.seconds = (performance.now() - t0) / 1000;
    if (!o.keep) await Deno.remove(lakehouse, { recursive: true }).catch(() => {});
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// c. The broker stopped mid-stream and started again
// ---------------------------------------------------------------------------------------------

export interface OutageOptions {
  /** Port of the scenario's OWN broker (never the shared one); controller on port + 1. */
  port: number;
  messages: number;
  outageMs: number;
  seed: number;
  maxRows: number;
  /** Producer rate, msgs/s, so that production spans the outage. */
  rate: number;
  /** How the broker is stopped: a clean shutdown or a crash. */
  signal?: "SIGTERM" | "SIGKILL";
  /** Show the consumer's stderr lines live. */
  echo?: boolean;
  versionSample?: number;
  log?: Log;
  keep?: boolean;
}

/**
 * Starts a private broker, produces at a fixed rate through the project's producer while one
 * consumer runs, stops the broker for `outageMs` mid-stream and starts it again. Neither the
 * producer nor the consumer is restarted: both must recover on their own.
 */
export async function outageScenario(o: OutageOptions): Promise<ScenarioReport> {
  const t0 = performance.now();
  const at = () => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
  const log0 = o.log ?? (() => {});
  const log: Log = (l) => log0(`[${at()}] ${l}`);
  const report = newReport("broker-outage", o.messages);
  const stateDir = join(ROOT, ".cache", "kafka", `chaos-${crypto.randomUUID()}`);
  const brokerOpts = { port: o.port, controllerPort: o.port + 1, stateDir, heap: "384m", log };
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-chaos-outage-" });
  const topic = `chaos-outage-${short()}`;
  const brokers = `127.0.0.1:${o.port}`;
  let consumer: Running | null = null;
  try {
    const info = await startLocalBroker({ ...brokerOpts, fresh: true });
    if (!info.started) throw new Error(`port ${o.port} is taken by another broker; pick another`);
    const kafka = createKafka({ brokers: [brokers], clientId: "chaos-producer", retries: 30 });
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopic(admin, topic, 3);
    await admin.disconnect();
    const mix = makeMix(o.messages, 60);
    consumer = start("consume", [
      ...chaosConsumeArgs(brokers, topic, lakehouse, `g-${topic}`),
      "--max-rows",
      String(o.maxRows),
    ], o.echo ? (l) => log(`  consume: ${l}`) : undefined);
    let sent = 0;
    const production = produce(kafka, topic, mix.messages, {
      rate: o.rate,
      maxInFlight: 1,
      // Idempotent: kafkajs' own retries through the outage cannot write a batch twice.
      producerConfig: { idempotent: true, maxInFlightRequests: 1 },
      onBatch: (n) => (sent = n),
    });
    // Stop the broker once about a third is produced and the consumer has committed.
    await waitFor(
      async () => sent >= o.messages / 3 && await latestVersion(join(lakehouse, "bronze")) >= 1,
      90_000,
    );
    log(`outage: stopping the broker (${o.signal ?? "SIGTERM"}) after ${sent} messages`);
    const stoppedAt = performance.now();
    await stopLocalBroker({ ...brokerOpts, signal: o.signal ?? "SIGTERM", graceMs: 20_000 });
    const sentAtStop = sent;
    await sleep(Math.max(0, o.outageMs - (performance.now() - stoppedAt)));
    const down = performance.now() - stoppedAt;
    await startLocalBroker(brokerOpts);
    log(`outage: broker back after ${(down / 1000).toFixed(1)} s`);
    report.details.outageSeconds = Number((down / 1000).toFixed(1));
    report.details.sentAtStop = sentAtStop;
    const produced = await production;
    log(`outage: producer done (${produced.sent} acknowledged, ${produced.errors} errors)`);
    report.details.producerErrors = produced.errors;
    if (produced.sent !== mix.messages.length) {
      report.problems.push(`producer acknowledged ${produced.sent} of ${mix.messages.length}`);
    }
    if (consumer.exited) {
      const r = await consumer.result;
      report.problems.push(`consumer died in the outage (exit ${r.code}): ${r.stderr.slice(-800)}`);
    }
    const highs = await highWatermarks(kafka, topic);
    const inTopic = [...highs.values()].reduce((a, b) => a + b, 0);
    report.details.inTopic = inTopic;
    const ok = await waitFor(
      () => tablesCaughtUp(lakehouse, topic, highs),
      120_000,
      500,
    );
    if (!ok) report.problems.push("the consumer did not catch up within 120 s after the outage");
    log(`outage: consumer caught up: ${ok}`);
    if (!consumer.exited) {
      // A graceful stop must be prompt: flush, commit, leave the group, exit.
      consumer.child.kill("SIGTERM");
      if (!await waitFor(() => consumer!.exited, 30_000, 100)) {
        report.problems.push("consume did not exit within 30 s of SIGTERM");
        await sigkill(consumer);
      }
      const r = await consumer.result;
      log(`outage: consumer stopped (exit ${r.code})`);
      if (r.code !== 0 && r.signal !== "SIGKILL") {
        report.problems.push(`consumer exit ${r.code} on SIGTERM: ${r.stderr.slice(-800)}`);
      }
    }
    const expected = inTopic === mix.messages.length
      ? expectedOf(mix)
      : await expectedFromTopic(kafka, topic, mix);
    await judge(report, lakehouse, expected, o.versionSample, o.seed);
  } finally {
    if (consumer) await sigkill(consumer);
    await stopLocalBroker({ ...brokerOpts, signal: "SIGKILL" }).catch(() => {});
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
    report.seconds = (performance.now() - t0) / 1000;
    if (!o.keep) await Deno.remove(lakehouse, { recursive: true }).catch(() => {});
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// d. The lakehouse turned read-only mid-stream
// ---------------------------------------------------------------------------------------------

/** How a directory is made read-only even for root (which ignores permission bits). */
export type ReadOnlyMethod = "bind-mount" | "chattr";

function run(cmd: string, args: string[]): { ok: boolean; err: string } {
  try {
    const o = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).outputSync();
    return { ok: o.success, err: new TextDecoder().decode(o.stderr).trim() };
  } catch (err) {
    return { ok: false, err: String(err) };
  }
}

/**
 * Finds a way to deny writes to root here: a read-only bind mount of the directory onto
 * itself (needs CAP_SYS_ADMIN), else the immutable attribute (`chattr +i`, needs
 * CAP_LINUX_IMMUTABLE and ext2/3/4, xfs, btrfs …). Each candidate is proved on a probe
 * directory — a write must really fail — so the caller can skip with the reasons otherwise.
 */
export function detectReadOnlyMethod(
  parent = readEnv("TMPDIR") ?? "/tmp",
): { method: ReadOnlyMethod | null; reasons: string[] } {
  const reasons: string[] = [];
  if (Deno.build.os !== "linux") return { method: null, reasons: ["not Linux"] };
  const probe = Deno.makeTempDirSync({ dir: parent, prefix: "ro-probe-" });
  const writeFails = () => {
    try {
      Deno.writeTextFileSync(join(probe, `w-${crypto.randomUUID()}`), "x");
      return false;
    } catch {
      return true;
    }
  };
  try {
    for (const method of ["bind-mount", "chattr"] as const) {
      const on = makeReadOnly(probe, method);
      if (!on.ok) {
        reasons.push(`${method}: ${on.err || "failed"}`);
        continue;
      }
      const denied = writeFails();
      const off = makeWritable(probe, method);
      if (denied && off.ok && !writeFails()) return { method, reasons };
      reasons.push(`${method}: ${denied ? `cannot undo: ${off.err}` : "writes still succeed"}`);
    }
    return { method: null, reasons };
  } finally {
    try {
      Deno.removeSync(probe, { recursive: true });
    } catch { /* a probe we could not make writable again stays; harmless and empty */ }
  }
}

/** Denies writes under `dir` (see detectReadOnlyMethod). */
export function makeReadOnly(dir: string, method: ReadOnlyMethod): { ok: boolean; err: string } {
  if (method === "chattr") return run("chattr", ["-R", "+i", dir]);
  const b = run("mount", ["--bind", dir, dir]);
  if (!b.ok) return b;
  // The remount fails with "busy" while a file is open for writing through the new mount (a
  // Parquet file being written): retry until the writer closes it — still mid-stream.
  let r = run("mount", ["-o", "remount,ro,bind", dir]);
  for (let i = 0; !r.ok && /busy/i.test(r.err) && i < 2000; i++) {
    r = run("mount", ["-o", "remount,ro,bind", dir]);
  }
  if (!r.ok) makeWritable(dir, "bind-mount");
  return r;
}

/** Undoes makeReadOnly. */
export function makeWritable(dir: string, method: ReadOnlyMethod): { ok: boolean; err: string } {
  if (method === "chattr") return run("chattr", ["-R", "-i", dir]);
  // A writer may still hold a file open through the mount for a moment: retry, then detach.
  let u = run("umount", [dir]);
  for (let i = 0; !u.ok && /busy/i.test(u.err) && i < 200; i++) u = run("umount", [dir]);
  return u.ok ? u : run("umount", ["-l", dir]);
}

export interface ReadOnlyOptions {
  brokers: string;
  messages: number;
  seed: number;
  maxRows: number;
  method: ReadOnlyMethod;
  /** Bronze commits before the lakehouse turns read-only. */
  afterCommits?: number;
  versionSample?: number;
  log?: Log;
  keep?: boolean;
}

/**
 * Turns the lakehouse read-only while `consume` is mid-backlog. The consumer must stop on its
 * own with a non-zero exit and an error naming the path; every commit file must be complete
 * and every version readable; once writable again a rerun must finish exactly.
 */
export async function readOnlyScenario(o: ReadOnlyOptions): Promise<ScenarioReport> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const report = newReport(`read-only (${o.method})`, o.messages);
  const topic = `chaos-ro-${short()}`;
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-chaos-ro-" });
  const bronze = join(lakehouse, "bronze");
  const mix = makeMix(o.messages, 60);
  await produceMix([o.brokers], topic, mix, 3);
  const group = `g-${topic}`;
  let readOnly = false;
  try {
    const consumer = start("consume", [
      ...chaosConsumeArgs(o.brokers, topic, lakehouse, group),
      "--max-rows",
      String(o.maxRows),
    ]);
    await waitFor(
      async () => consumer.exited || await latestVersion(bronze) >= 1 + (o.afterCommits ?? 2),
      90_000,
      10,
    );
    const ro = makeReadOnly(lakehouse, o.method);
    if (!ro.ok) throw new Error(`could not make ${lakehouse} read-only: ${ro.err}`);
    readOnly = true;
    const at = await latestVersion(bronze);
    log(`read-only: ${lakehouse} read-only (${o.method}) at bronze v${at}`);
    // It must stop by itself, promptly, rather than retry forever or carry on.
    const stopped = await waitFor(() => consumer.exited, 60_000, 100);
    if (!stopped) {
      report.problems.push("consume kept running for 60 s on a read-only lakehouse");
      await sigkill(consumer);
    }
    const r = await consumer.result;
    report.details.exitCode = r.code;
    const errorLine = r.stderr.split("\n").filter((l) => /error/i.test(l)).at(-1) ?? "";
    report.details.error = errorLine.slice(0, 300);
    if (r.code === 0) report.problems.push("consume exited 0 on a read-only lakehouse");
    if (!r.stderr.includes(lakehouse)) {
      report.problems.push(`the error does not name the path: ${r.stderr.slice(-600)}`);
    }
    const partial = await tableCounts(lakehouse);
    report.details.bronzeWhenStopped = partial.bronze;
    if (partial.bronze >= mix.messages.length) {
      report.problems.push("everything was ingested before the lakehouse turned read-only");
    }
    // While still read-only: no half-written commit, every version readable.
    const v = await checkVersions(lakehouse, { sample: o.versionSample, seed: o.seed });
    report.problems.push(...v.problems.map((p) => `while read-only: ${p}`));
    const w = makeWritable(lakehouse, o.method);
    if (!w.ok) throw new Error(`could not make ${lakehouse} writable again: ${w.err}`);
    readOnly = false;
    const again = start("consume", [
      ...chaosConsumeArgs(o.brokers, topic, lakehouse, group),
      "--until-caught-up",
    ]);
    const r2 = await again.result;
    if (r2.code !== 0) report.problems.push(`resume exited ${r2.code}: ${r2.stderr.slice(-800)}`);
    await judge(report, lakehouse, expectedOf(mix), o.versionSample, o.seed);
  } finally {
    if (readOnly) makeWritable(lakehouse, o.method);
    report.seconds = (performance.now() - t0) / 1000;
    if (!o.keep) await Deno.remove(lakehouse, { recursive: true }).catch(() => {});
  }
  return report;
}

/** One line per scenario for humans. */
export function formatReport(r: ScenarioReport): string {
  const head = `${r.scenario}: ${r.messages} msgs, ${r.kills} kills survived, lost ${r.lost}, ` +
    `duplicates ${r.duplicates}, ${r.versionsChecked} versions read, ${r.seconds.toFixed(1)} s`;
  const extra = Object.entries(r.details).map(([k, v]) => `${k}=${v}`).join(" ");
  return `${head}${extra ? ` [${extra}]` : ""}${
    r.problems.length ? `\n  PROBLEMS:\n  - ${r.problems.join("\n  - ")}` : " — OK"
  }`;
}
