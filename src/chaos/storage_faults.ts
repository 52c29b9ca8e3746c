/**
 * Faults on object storage and at exact moments of a commit:
 *
 * - s3-restart: the S3 server (a throw-away S3Proxy) SIGKILLed mid-ingest and started again
 *   after a pause, the consumer left running;
 * - s3-put-kill: the consumer killed while a `_delta_log` entry's PUT is in flight (the storage
 *   has answered, the writer has not read the answer);
 * - split-commit: the consumer killed between a flush's silver and bronze commits, locally and
 *   on S3 — before the fault point, only chance landed a kill there.
 *
 * The last two arm the test-only fault point (src/fault_point.ts) with a seeded hit number per
 * run, so every kill lands exactly where it is meant to. Each scenario ends with the same
 * judgement as the others (report.ts) and with delta-rs reading the same row counts as DuckDB.
 */
import { join } from "node:path";
import { FAULT_ENV, FAULT_MARK } from "../fault_point.ts";
import { ROOT } from "../tasks.ts";
import { createKafka } from "../kafka/client.ts";
import { loadSnapshot } from "../delta/snapshot.ts";
import { localS3Env, s3Answers, startLocalS3, stopLocalS3 } from "../storage/local_s3proxy.ts";
import { isS3, joinLocation } from "../storage/location.ts";
import { resetStorageCache, storageFor } from "../storage/storage.ts";
import { removeS3Scratch } from "../storage/test_s3.ts";
import { deltalakeRows, readWithDeltalake } from "../python_venv.ts";
import { Prng } from "../simulator/prng.ts";
import { bronzeVersion, makeMix, type Mix, produceMix, tableCounts } from "./mix.ts";
import {
  type Expected,
  expectedFromTopic,
  expectedOf,
  highWatermarks,
  TABLES,
  tablesCaughtUp,
} from "./verify.ts";
import {
  chaosConsumeArgs,
  type Running,
  short,
  sigkill,
  sleep,
  start,
  waitFor,
} from "./processes.ts";
import {
  closeScenario,
  judge,
  type Log,
  newReport,
  type ScenarioOptions,
  type ScenarioReport,
} from "./report.ts";

// ---------------------------------------------------------------------------------------------
// A throw-away S3 server
// ---------------------------------------------------------------------------------------------

/** An S3Proxy of our own (never the shared one: it gets killed), with its own state. */
export interface ThrowAwayS3 {
  port: number;
  /** `s3://bucket` on it. */
  root: string;
  /** SIGKILL, as a crash of the server (its objects stay on disk). */
  kill(): Promise<void>;
  /** Starts it again on the same objects. */
  restart(): Promise<void>;
  /** Stops it for good, removes its state, and gives the AWS_* variables back. */
  stop(): Promise<void>;
}

/** The first port in `from`–`to` nobody listens on, for a throw-away S3 server. */
export function freeS3Port(from = 19001, to = 19050): number {
  for (let port = from; port <= to; port++) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch { /* taken */ }
  }
  throw new Error(`no free port in ${from}-${to} for a throw-away S3 server`);
}

/**
 * Starts an S3Proxy at `port` (refused when something answers there) and points this process's
 * AWS_* variables — and so the consumers it spawns — at it until stop().
 */
export async function startThrowAwayS3(port: number, log: Log = () => {}): Promise<ThrowAwayS3> {
  if (await s3Answers(port)) throw new Error(`port ${port} already serves S3; pick a free one`);
  const stateDir = join(ROOT, ".cache", "s3proxy", `chaos-${short()}`);
  const opts = { port, stateDir, cacheDir: join(ROOT, ".cache", "s3proxy"), log };
  const info = await startLocalS3({ ...opts, fresh: true });
  const env = localS3Env(port);
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
  resetStorageCache();
  const kill = async () => {
    await stopLocalS3({ ...opts, signal: "SIGKILL", graceMs: 5000 });
  };
  return {
    port,
    root: `s3://${info.bucket}`,
    kill,
    restart: async () => {
      await startLocalS3(opts);
    },
    stop: async () => {
      await kill().catch(() => {});
      await Deno.remove(stateDir, { recursive: true }).catch(() => {});
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) Deno.env.delete(k);
        else Deno.env.set(k, v);
      }
      resetStorageCache();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Shared steps
// ---------------------------------------------------------------------------------------------

/** The scenario's log with the seconds since `t0` in front of each line. */
function timed(o: ScenarioOptions, t0: number): Log {
  const log = o.log ?? (() => {});
  return (l) => log(`[${((performance.now() - t0) / 1000).toFixed(1)}s] ${l}`);
}

/** A fresh lakehouse: under `s3Root` when given, else a local temp directory. */
async function newLakehouse(s3Root: string | undefined, name: string): Promise<string> {
  return s3Root
    ? `${s3Root}/chaos-${name}-${short()}`
    : await Deno.makeTempDir({ prefix: `lh-chaos-${name}-` });
}

/** closeScenario, and the objects of an `s3://` lakehouse removed too (unless kept). */
async function close(report: ScenarioReport, lakehouse: string, o: ScenarioOptions, t0: number) {
  await closeScenario(report, lakehouse, o, t0);
  if (isS3(lakehouse) && !o.keep) await removeS3Scratch(lakehouse).catch(() => {});
}

/**
 * The second reader: delta-rs must see the row counts DuckDB saw (report.details, set by
 * judge). Without a python that has deltalake the check is skipped and says why.
 */
export async function deltaRsAgrees(report: ScenarioReport, lakehouse: string): Promise<void> {
  for (const t of TABLES) {
    const view = await readWithDeltalake(joinLocation(lakehouse, t));
    if ("reason" in view) {
      report.details.deltaRs = `skipped: ${view.reason}`;
      return;
    }
    const rows = deltalakeRows(view);
    report.details[`deltaRs_${t}`] = rows;
    if (rows !== report.details[t]) {
      report.problems.push(`${t}: delta-rs reads ${rows} rows, DuckDB ${report.details[t]}`);
    }
  }
  report.details.deltaRs = "agrees";
}

/**
 * What the topic holds: the mix, unless a producer retry under load wrote some of it twice
 * (then classified from the topic itself, as the outage scenario does).
 */
async function expectedIn(brokers: string, topic: string, mix: Mix): Promise<Expected> {
  const kafka = createKafka({ brokers: [brokers], clientId: "chaos-verify" });
  const highs = await highWatermarks(kafka, topic);
  const inTopic = [...highs.values()].reduce((a, b) => a + b, 0);
  return inTopic === mix.messages.length
    ? expectedOf(mix)
    : await expectedFromTopic(kafka, topic, mix);
}

/** Catches up with one unarmed run, then judges with both readers. */
async function catchUpAndJudge(
  report: ScenarioReport,
  o: ScenarioOptions & { brokers: string },
  lakehouse: string,
  topic: string,
  mix: Mix,
  log: Log,
): Promise<void> {
  const partial = await tableCounts(lakehouse);
  report.details.bronzeBeforeCatchUp = partial.bronze;
  if (partial.bronze >= mix.messages.length) {
    report.problems.push("the stream was fully ingested before the last fault: not mid-stream");
  }
  const last = start("consume", [
    ...chaosConsumeArgs(o.brokers, topic, lakehouse, `g-${topic}-last`),
    "--until-caught-up",
    "--max-rows",
    String(Math.max(o.maxRows, 20_000)),
  ]);
  const r = await last.result;
  if (r.code !== 0) report.problems.push(`catch-up exited ${r.code}: ${r.stderr.slice(-800)}`);
  log(`caught up; judging ${lakehouse}`);
  await judge(report, lakehouse, await expectedIn(o.brokers, topic, mix), o);
  log("judged by DuckDB; reading with delta-rs");
  await deltaRsAgrees(report, lakehouse);
}

/**
 * Runs `consume` `kills` times, each with the fault point armed by `fault()`, SIGKILLing it as
 * soon as it reports the point reached. Each run joins a fresh group: positions come from the
 * tables' txns alone. `after` looks at what the crash left before the next run.
 */
async function killAtFaultPoints(
  report: ScenarioReport,
  o: ScenarioOptions & { brokers: string; kills: number },
  lakehouse: string,
  topic: string,
  fault: () => string,
  log: Log,
  after?: (announced: string) => Promise<void>,
): Promise<void> {
  for (let k = 0; k < o.kills; k++) {
    const spec = fault();
    let reached = "";
    const run: Running = start(
      "consume",
      [
        ...chaosConsumeArgs(o.brokers, topic, lakehouse, `g-${topic}-r${k}`),
        "--max-rows",
        String(o.maxRows),
      ],
      (line) => {
        if (!line.startsWith(FAULT_MARK)) return;
        reached = line;
        sigkill(run);
      },
      { [FAULT_ENV]: spec },
    );
    if (!await waitFor(() => run.exited, 120_000, 50)) await sigkill(run);
    const r = await run.result;
    if (!reached || r.signal !== "SIGKILL") {
      report.problems.push(
        `run ${k}: ${spec} not reached (exit ${r.code}, signal ${r.signal}): ${
          r.stderr.slice(-600)
        }`,
      );
      return;
    }
    report.kills++;
    log(`kill ${k + 1}/${o.kills}: at ${spec} (bronze v${await bronzeVersion(lakehouse)})`);
    await after?.(reached);
  }
}

// ---------------------------------------------------------------------------------------------
// a. The S3 server killed mid-ingest, restarted after a pause
// ---------------------------------------------------------------------------------------------

export interface S3RestartOptions extends ScenarioOptions {
  brokers: string;
  s3: ThrowAwayS3;
  /** How long the server stays down, ms (from the kill to the restart's start). */
  downMs: number;
  /** Bronze commits before the kill. */
  afterCommits?: number;
}

/**
 * One `consume` ingests a backlog into `s3://` while the S3 server is SIGKILLed and started
 * again `downMs` later on the same objects. The consumer is left alone; should it give up,
 * it is started again (as a supervisor would) and the report says so.
 */
export async function s3RestartScenario(o: S3RestartOptions): Promise<ScenarioReport> {
  const t0 = performance.now();
  const log = timed(o, t0);
  const report = newReport("s3-restart", o.messages);
  const topic = `chaos-s3restart-${short()}`;
  const lakehouse = await newLakehouse(o.s3.root, "s3restart");
  const mix = makeMix(o.messages, 60);
  let consumer: Running | null = null;
  try {
    await produceMix([o.brokers], topic, mix, 3);
    const args = [...chaosConsumeArgs(o.brokers, topic, lakehouse, `g-${topic}`)];
    consumer = start("consume", [...args, "--max-rows", String(o.maxRows)]);
    const c = consumer;
    await waitFor(
      async () => c.exited || await bronzeVersion(lakehouse) >= (o.afterCommits ?? 2),
      90_000,
    );
    const at = await bronzeVersion(lakehouse);
    const killedAt = performance.now();
    await o.s3.kill();
    log(`s3-restart: S3 server SIGKILLed at bronze v${at}`);
    report.details.bronzeVersionAtKill = at;
    await sleep(Math.max(0, o.downMs - (performance.now() - killedAt)));
    await o.s3.restart();
    const down = (performance.now() - killedAt) / 1000;
    report.details.downSeconds = Number(down.toFixed(1));
    log(`s3-restart: S3 server answering again after ${down.toFixed(1)} s`);
    const kafka = createKafka({ brokers: [o.brokers], clientId: "chaos-s3restart" });
    const highs = await highWatermarks(kafka, topic);
    await waitFor(() => c.exited || tablesCaughtUp(lakehouse, topic, highs), 180_000, 500);
    if (c.exited) {
      const r = await c.result;
      const why = r.stderr.split("\n").filter((l) => /error/i.test(l)).at(-1) ?? "";
      report.details.consumerRodeOut = `no: exit ${r.code} (${why.slice(0, 200)}); restarted`;
      log(`s3-restart: the consumer gave up (exit ${r.code}); starting it again`);
      consumer = start("consume", [...args, "--until-caught-up"]);
      const r2 = await consumer.result;
      if (r2.code !== 0) {
        report.problems.push(`restart exited ${r2.code}: ${r2.stderr.slice(-800)}`);
      }
    } else {
      report.details.consumerRodeOut = "yes";
      c.child.kill("SIGTERM");
      if (!await waitFor(() => c.exited, 30_000, 100)) {
        report.problems.push("consume did not exit within 30 s of SIGTERM");
      }
    }
    log("s3-restart: caught up; judging");
    await judge(report, lakehouse, await expectedIn(o.brokers, topic, mix), o);
    await deltaRsAgrees(report, lakehouse);
  } finally {
    if (consumer) await sigkill(consumer);
    await close(report, lakehouse, o, t0);
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// b, c. Kills at fault points: a commit PUT in flight; between silver and bronze
// ---------------------------------------------------------------------------------------------

export interface FaultPointOptions extends ScenarioOptions {
  brokers: string;
  kills: number;
  /** `s3://bucket[/prefix]` for a lakehouse on S3 (this process's AWS_* point there); else local. */
  s3Root?: string;
}

/** Seeded hit numbers whose runs spread `kills` kills over about two thirds of the stream. */
function hitNumbers(o: FaultPointOptions, hitsPerFlush: number): () => number {
  const prng = new Prng(o.seed);
  const mean = Math.max(1, Math.floor((o.messages / o.maxRows) * hitsPerFlush / (o.kills * 1.5)));
  return () => prng.int(1, 2 * mean - 1);
}

/**
 * The consumer killed while the PUT of a `_delta_log` entry is in flight: the storage has
 * answered (S3: 200 for `If-None-Match: *`; locally: the link made) and the writer dies before
 * it learns. The next run must find the entry, keep it, and neither lose nor repeat a row.
 */
export async function putKillScenario(o: FaultPointOptions): Promise<ScenarioReport> {
  const where = o.s3Root ? "s3" : "local";
  // Silver, bronze and quarantine: three entries per flush.
  const hit = hitNumbers(o, 3);
  let landed = 0;
  return await faultPointScenario(
    o,
    `put-kill (${where})`,
    "putkill",
    () => `crash-during:commit-put:${hit()}`,
    async (report, _lakehouse, announced) => {
      // The storage had answered: the entry the writer never heard back about must be there.
      const entry = / at (\S+) \(pid/.exec(announced)?.[1] ?? "";
      if (entry && await storageFor(entry).head(entry)) landed++;
      else report.problems.push(`the entry being PUT at the kill is missing: ${announced}`);
      report.details.entriesLandedAtKill = landed;
    },
  );
}

/**
 * The consumer killed between a flush's silver and bronze commits. After each kill silver must
 * hold positions bronze does not (the crash landed there); the next run resumes from the
 * smaller txn version and each table skips what it holds.
 */
export async function splitCommitScenario(o: FaultPointOptions): Promise<ScenarioReport> {
  const where = o.s3Root ? "s3" : "local";
  let splits = 0;
  const hit = hitNumbers(o, 1);
  return await faultPointScenario(
    o,
    `split-commit (${where})`,
    "split",
    () => `crash-after:silver-commit:${hit()}`,
    async (report, lakehouse) => {
      const [silver, bronze] = await Promise.all(
        ["silver", "bronze"].map((t) => loadSnapshot(joinLocation(lakehouse, t))),
      );
      const ahead = [...silver.txns.keys()].filter((a) =>
        (silver.txnVersion(a) ?? -1) > (bronze.txnVersion(a) ?? -1)
      );
      if (ahead.length === 0) {
        report.problems.push("a kill at the fault point left silver and bronze at one position");
      } else splits++;
      report.details.splitsSeen = splits;
    },
  );
}

async function faultPointScenario(
  o: FaultPointOptions,
  name: string,
  slug: string,
  fault: () => string,
  inspect?: (report: ScenarioReport, lakehouse: string, announced: string) => Promise<void>,
): Promise<ScenarioReport> {
  const t0 = performance.now();
  const log = timed(o, t0);
  const report = newReport(name, o.messages);
  const topic = `chaos-${slug}-${short()}`;
  const lakehouse = await newLakehouse(o.s3Root, slug);
  const mix = makeMix(o.messages, 60);
  try {
    await produceMix([o.brokers], topic, mix, 3);
    log(`${name}: produced ${mix.messages.length} messages to ${topic}; lakehouse ${lakehouse}`);
    const after = inspect && ((line: string) => inspect(report, lakehouse, line));
    await killAtFaultPoints(report, o, lakehouse, topic, fault, log, after);
    await catchUpAndJudge(report, o, lakehouse, topic, mix, log);
  } finally {
    await close(report, lakehouse, o, t0);
  }
  return report;
}
