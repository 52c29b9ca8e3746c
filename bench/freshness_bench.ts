/**
 * Freshness: how long after the producer hands a reading to kafkajs an outside reader can read
 * it from silver with DuckDB's `delta_scan`.
 *
 * The harness produces `rate` msgs/s in-process (the real producer, `produce()`, with the
 * simulator of a 10,000-device site at 1 reading/s, so event time follows the wall clock) while
 * the `consume` task runs as its own process with its default flush policy. The first and last
 * reading of every send are probes; their send time is taken right before kafkajs gets the
 * batch. A watcher polls silver's `_delta_log` for the next version every few ms; when one
 * appears it runs one `delta_scan` query for every outstanding probe. A probe's latency is the
 * start time of the first query that returned it minus its send time — an upper bound of the
 * moment it became readable (the previous query, started earlier, did not return it), never an
 * optimistic estimate from commit metadata.
 *
 * @module
 */
import { join } from "node:path";
import { createKafka } from "../src/kafka/client.ts";
import { ensureTopic, produce } from "../src/kafka/producer.ts";
import type { SimMessage } from "../src/simulator/simulator.ts";
import { liveSite } from "./sizes.ts";
import { openDuckDB, sqlString } from "../src/duckdb/engine.ts";
import { consumeArgs, spawnTask } from "../src/tasks.ts";
import type { KafkaBenchEnv } from "./kafka_bench.ts";
import { percentile } from "./stats.ts";
import { exists } from "../src/files.ts";
import { cpuSeconds } from "./task_processes.ts";

/** One freshness run. */
export interface FreshnessRun {
  rate: number;
  seconds: number;
  sent: number;
  probes: number;
  /** Probes never returned within the grace period after production stopped. */
  missing: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Silver versions committed during the run, and the mean time between them. */
  versions: number;
  meanCommitIntervalMs: number;
  /** consume's CPU (whole seconds, `ps`) from its group's first assignment to the last probe. */
  consumeCpuSeconds: number | null;
}

interface Probe {
  device: string;
  building: string;
  eventMs: number;
  sentAt: number;
}

const POLL_MS = 5;

function versionFile(table: string, v: number): string {
  return join(table, "_delta_log", `${String(v).padStart(20, "0")}.json`);
}

async function waitForStableGroup(env: KafkaBenchEnv, group: string, child: Deno.ChildProcess) {
  const admin = createKafka({ brokers: env.brokers.split(","), clientId: "bench-fresh" }).admin();
  let exited = false;
  child.status.then(() => (exited = true));
  await admin.connect();
  try {
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && !exited) {
      const g = (await admin.describeGroups([group])).groups[0];
      if (g?.state === "Stable" && g.members.length > 0) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(exited ? "consume exited before joining its group" : "group never stable");
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Produces `rate` msgs/s for `seconds` into a fresh `topic` while `consume` ingests into a fresh
 * `lakehouse`, and measures produce→visible latency of the probes (see the module doc).
 */
export async function benchFreshness(
  env: KafkaBenchEnv,
  topic: string,
  lakehouse: string,
  seconds: number,
  rate = 10_000,
): Promise<FreshnessRun> {
  const brokers = env.brokers.split(",");
  const kafka = createKafka({ brokers, clientId: "smarttech-bench-fresh" });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopic(admin, topic, 3).finally(() => admin.disconnect());
  const group = `bench-fresh-${crypto.randomUUID()}`;
  const consume = spawnTask(
    "consume",
    consumeArgs({ brokers: env.brokers, topic, lakehouse, group }),
    {},
    { deno: env.deno, stdout: "piped", stderr: "piped" },
  );
  const stderrText = new Response(consume.stderr).text();
  const stdoutText = new Response(consume.stdout).text();
  const db = await openDuckDB({ threads: 1 });
  const silver = join(lakehouse, "silver");
  const outstanding = new Map<string, Probe>();
  const latencies: number[] = [];
  const commitTimes: number[] = [];
  let probes = 0;
  let watching = true;
  try {
    await waitForStableGroup(env, group, consume);
    const cpuAtStart = await cpuSeconds(consume.pid);
    let next = 0;
    while (await exists(versionFile(silver, next))) next++;
    const watcher = (async () => {
      while (watching) {
        if (!(await exists(versionFile(silver, next)))) {
          await new Promise((r) => setTimeout(r, POLL_MS));
          continue;
        }
        while (await exists(versionFile(silver, next))) {
          commitTimes.push(performance.now());
          next++;
        }
        if (outstanding.size === 0) continue;
        const list = [...outstanding.values()];
        const lo = Math.min(...list.map((p) => p.eventMs));
        const hi = Math.max(...list.map((p) => p.eventMs));
        const devices = [...new Set(list.map((p) => p.device))].map(sqlString).join(",");
        const buildings = [...new Set(list.map((p) => p.building))].map(sqlString).join(",");
        const queryAt = performance.now();
        const rows = await (await db.conn.run(
          `SELECT device_id, epoch_ms(timestamp)::DOUBLE AS t FROM delta_scan(${sqlString(silver)})
           WHERE building IN (${buildings})
             AND timestamp BETWEEN make_timestamp(${lo * 1000}::BIGINT) AND make_timestamp(${
            hi * 1000
          }::BIGINT)
             AND device_id IN (${devices})`,
        )).getRowObjectsJS();
        for (const r of rows) {
          const key = `${r.device_id}@${r.t}`;
          const p = outstanding.get(key);
          if (!p) continue;
          latencies.push(queryAt - p.sentAt);
          outstanding.delete(key);
        }
      }
    })();

    const start = Math.floor(Date.now() / 1000) * 1000;
    const sim = liveSite(7, rate, seconds, start);
    const probe = (m: SimMessage, at: number) => {
      const building = m.key.slice(0, m.key.indexOf("-"));
      outstanding.set(`${m.key}@${m.eventTime}`, {
        device: m.key,
        building,
        eventMs: m.eventTime,
        sentAt: at,
      });
      probes++;
    };
    const t0 = performance.now();
    const r = await produce(kafka, topic, sim, {
      rate,
      onSend: (batch, at) => {
        probe(batch[0], at);
        if (batch.length > 1) probe(batch[batch.length - 1], at);
      },
    });
    const produced = (performance.now() - t0) / 1000;
    const graceEnd = performance.now() + 30_000;
    while (outstanding.size > 0 && performance.now() < graceEnd) {
      await new Promise((res) => setTimeout(res, 50));
    }
    watching = false;
    await watcher;
    const cpuAtEnd = await cpuSeconds(consume.pid);
    const intervals = commitTimes.slice(1).map((t, i) => t - commitTimes[i]);
    const round = (x: number) => Math.round(x);
    return {
      rate,
      seconds: Number(produced.toFixed(2)),
      sent: r.sent,
      probes,
      missing: outstanding.size,
      p50Ms: round(percentile(latencies, 50)),
      p95Ms: round(percentile(latencies, 95)),
      p99Ms: round(percentile(latencies, 99)),
      maxMs: round(Math.max(...latencies)),
      versions: commitTimes.length,
      meanCommitIntervalMs: intervals.length
        ? round(intervals.reduce((s, x) => s + x, 0) / intervals.length)
        : 0,
      consumeCpuSeconds: cpuAtStart === null || cpuAtEnd === null ? null : cpuAtEnd - cpuAtStart,
    };
  } finally {
    watching = false;
    db.close();
    try {
      consume.kill("SIGTERM");
    } catch { /* already gone */ }
    const status = await consume.status;
    await stdoutText;
    const err = await stderrText;
    if (!status.success && status.signal === null) {
      env.log(
        `freshness: consume exited ${status.code}: ${err.trim().split("\n").slice(-5).join(" | ")}`,
      );
    }
  }
}
