/**
 * The kill, group and outage scenarios against the real broker and the real `consume` task.
 * Each ingests a seeded mix whose outcome is known from how it was built (makeMix), injects one
 * kind of fault, and judges the lakehouse only through what an outside reader sees. A scenario
 * never throws on a wrong result: it returns the problems it found, so the long form can report
 * all of them and the test can assert there are none.
 */
import { join } from "node:path";
import { createKafka } from "../kafka/client.ts";
import { startLocalBroker, stopLocalBroker } from "../kafka/local_broker.ts";
import { ensureTopic, produce } from "../kafka/producer.ts";
import { optimize } from "../delta/optimize.ts";
import { Prng } from "../simulator/prng.ts";
import { makeMix, produceMix, tableCounts } from "./mix.ts";
import { ROOT } from "../tasks.ts";
import {
  expectedFromTopic,
  expectedOf,
  highWatermarks,
  latestVersion,
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
// a. SIGKILL at seeded random moments
// ---------------------------------------------------------------------------------------------

export interface KillOptions extends ScenarioOptions {
  brokers: string;
  kills: number;
  partitions?: number;
  devices?: number;
  /** Longest seeded delay between the victim's first commit and the kill, ms. */
  maxDelayMs?: number;
  /**
   * Which group each restart joins: "same" (a restarted pod; waits out the dead member's
   * session), "fresh" (positions then come only from the tables), or "alternate".
   */
  groupMode?: "same" | "fresh" | "alternate";
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
    await judge(report, lakehouse, expectedOf(mix), o);
  } finally {
    await closeScenario(report, lakehouse, o, t0);
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// b. Three consumers in one group, optimize alongside, one killed
// ---------------------------------------------------------------------------------------------

export interface GroupOptions extends ScenarioOptions {
  brokers: string;
  consumers?: number;
  partitions?: number;
  /** Bronze commits to wait for before killing one consumer. */
  killAfterCommits?: number;
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
    await judge(report, lakehouse, expectedOf(mix), o);
  } finally {
    await closeScenario(report, lakehouse, o, t0);
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// c. The broker stopped mid-stream and started again
// ---------------------------------------------------------------------------------------------

export interface OutageOptions extends ScenarioOptions {
  /** Port of the scenario's OWN broker (never the shared one); controller on port + 1. */
  port: number;
  outageMs: number;
  /** Producer rate, msgs/s, so that production spans the outage. */
  rate: number;
  /** How the broker is stopped: a clean shutdown or a crash. */
  signal?: "SIGTERM" | "SIGKILL";
  /** Show the consumer's stderr lines live. */
  echo?: boolean;
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
    await judge(report, lakehouse, expected, o);
  } finally {
    if (consumer) await sigkill(consumer);
    await stopLocalBroker({ ...brokerOpts, signal: "SIGKILL" }).catch(() => {});
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
    await closeScenario(report, lakehouse, o, t0);
  }
  return report;
}
