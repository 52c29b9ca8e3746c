/**
 * What scraping /metrics costs the consumer (issue 28: every second, under 1 % of its CPU).
 *
 * Two measurements against the local broker:
 * 1. Alternating runs of `consume --until-caught-up` draining the same topic into a fresh
 *    lakehouse, one with `--metrics-port` scraped every second, one without, each under
 *    /usr/bin/time (user + system CPU of the consume process). The difference is the cost, but
 *    it sits inside the run-to-run noise of a 2-core machine shared with others.
 * 2. So the cost is also measured directly: a consume left idle after draining is scraped
 *    `SCRAPES` times back to back; its own `process_cpu_seconds_total` before and after gives
 *    the CPU per scrape, and the share of one second of the consumer's CPU while draining.
 *
 * Not part of `deno task bench` (bench/run.ts is at the module size limit and writes
 * latest.json); run it on its own:
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-net=127.0.0.1 --allow-env --allow-ffi \
 *   --allow-sys --allow-run=deno,/usr/bin/time bench/metrics_cost.ts [messages] [pairs]
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { readEnv } from "../src/env.ts";
import { consumeArgs, freePort, ROOT, spawnTask } from "../src/tasks.ts";
import { benchPipeline, benchProduce, deleteTopics, type KafkaBenchEnv } from "./kafka_bench.ts";
import { PRODUCERS } from "./run.ts";

const SCRAPES = 2000;

/** Scrapes `port` every `everyMs` until `stop` resolves; returns the successful scrapes. */
async function scrapeEvery(port: number, everyMs: number, stop: Promise<unknown>) {
  let done = false;
  stop.finally(() => (done = true));
  let ok = 0;
  while (!done) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      await res.text();
      if (res.ok) ok++;
    } catch { /* not listening yet, or gone */ }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return ok;
}

async function cpuOf(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^process_cpu_seconds_total (\S+)$/m.exec(text)![1]);
}

/** CPU seconds per scrape of an idle consume (its own process_cpu_seconds_total). */
async function perScrape(env: KafkaBenchEnv, topic: string, lakehouse: string) {
  const port = freePort();
  const child = spawnTask(
    "consume",
    consumeArgs({ brokers: env.brokers, topic, lakehouse, group: `mc-${crypto.randomUUID()}` }, [
      "--metrics-port",
      String(port),
    ]),
    {},
    { deno: env.deno, stdout: "null", stderr: "null" },
  );
  try {
    for (let i = 0;; i++) {
      try {
        await cpuOf(port);
        break;
      } catch {
        if (i > 100) throw new Error("consume never served /metrics");
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    await new Promise((r) => setTimeout(r, 5000)); // joined, caught up, idle
    // The idle consumer's own CPU over the same wall time, to subtract.
    const i0 = await cpuOf(port);
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, 3000));
    const idlePerMs = (await cpuOf(port) - i0) / (performance.now() - w0);
    const c0 = await cpuOf(port);
    const t0 = performance.now();
    for (let i = 0; i < SCRAPES; i++) {
      await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    }
    const wall = performance.now() - t0;
    const cpu = await cpuOf(port) - c0 - idlePerMs * wall;
    return { cpuMsPerScrape: (cpu * 1000) / (SCRAPES + 1), wallMsPerScrape: wall / SCRAPES };
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

async function main() {
  const messages = Number(Deno.args[0] ?? 500_000);
  const pairs = Number(Deno.args[1] ?? 3);
  const env: KafkaBenchEnv = {
    brokers: readEnv("KAFKA_BROKERS") ?? "127.0.0.1:9092",
    deno: "deno", // --allow-run=deno names it; a scoped permission misses the resolved path
    log: (l) => console.error(l),
  };
  const tmp = await Deno.makeTempDir({ prefix: "smarttech-metrics-cost-" });
  const topic = `bench-metrics-cost-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await benchProduce(env, topic, messages, PRODUCERS.after);
    const runs: { scraped: boolean; cpuSeconds: number; seconds: number; scrapes: number }[] = [];
    for (let i = 0; i < pairs * 2; i++) {
      const scraped = i % 2 === (Math.floor(i / 2) % 2); // ABBA order: no drift favours one side
      const port = freePort();
      const run = benchPipeline(env, topic, join(tmp, `lh${i}`), {
        measureRss: true,
        extraArgs: scraped ? ["--metrics-port", String(port)] : [],
      });
      const scrapes = scraped ? scrapeEvery(port, 1000, run) : Promise.resolve(0);
      const r = await run;
      runs.push({ scraped, cpuSeconds: r.cpuSeconds!, seconds: r.seconds, scrapes: await scrapes });
      env.log(
        `run ${i + 1}: ${scraped ? "scraped    " : "not scraped"} ${r.cpuSeconds} s CPU, ` +
          `${r.seconds.toFixed(1)} s, ${r.msgsPerSec} msg/s`,
      );
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const cpu = (s: boolean) =>
      median(runs.filter((r) => r.scraped === s).map((r) => r.cpuSeconds));
    const drainSeconds = median(runs.map((r) => r.seconds));
    const direct = await perScrape(env, topic, join(tmp, "lh0"));
    const consumerCpuPerSecond = cpu(false) / drainSeconds;
    const result = {
      date: new Date().toISOString(),
      messages,
      pairs,
      runs,
      medianCpuSecondsScraped: cpu(true),
      medianCpuSecondsNotScraped: cpu(false),
      differencePercent: Number((100 * (cpu(true) / cpu(false) - 1)).toFixed(2)),
      cpuMsPerScrape: Number(direct.cpuMsPerScrape.toFixed(3)),
      wallMsPerScrape: Number(direct.wallMsPerScrape.toFixed(3)),
      consumerCpuSecondsPerSecondDraining: Number(consumerCpuPerSecond.toFixed(3)),
      scrapeEverySecondPercentOfConsumerCpu: Number(
        (100 * direct.cpuMsPerScrape / 1000 / consumerCpuPerSecond).toFixed(3),
      ),
    };
    console.log(JSON.stringify(result, null, 2));
    const out = join(ROOT, "bench/results", `metrics-cost-${result.date.slice(0, 10)}.json`);
    await Deno.writeTextFile(out, JSON.stringify(result, null, 2) + "\n");
    env.log(`written to ${out}`);
  } finally {
    await deleteTopics(env.brokers, [topic]).catch(() => {});
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await main();
