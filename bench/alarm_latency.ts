/**
 * Alarm latency (issue 28 point 3): from the moment the reading that completes an alarm
 * condition is handed to Kafka to the webhook POST arriving, under background load.
 *
 * ```
 * deno run --allow-read --allow-write --allow-net=127.0.0.1 --allow-run --allow-ffi \
 *   --allow-env --allow-sys=loadavg,cpus bench/alarm_latency.ts [--rate 10000] [--seconds 120] \
 *   [--episodes 30] [--out bench/results/alarm-latency-DATE.json]
 * ```
 *
 * `deno task bench --only alarm-latency` runs it as a scenario ({@link alarmLatency}); this file
 * still runs on its own as above. The harness runs the real tasks as processes: `consume` (default flush policy) and `gold --watch --notify <receiver>` (its
 * default interval; it wakes on each silver version); the receiver and the producers run here.
 * - Background: the simulator of a building fleet at 1 reading/s per device (`--rate` msgs/s,
 *   event time = wall clock), produced by `produce()` as `deno task produce` does.
 * - Episodes: `--episodes` extra CO2 sensors (building `alarmbench`), one reading a second,
 *   live (event time = the second it is sent), started one after another. Each is above the
 *   critical band from its first reading, so only the `threshold` rule can fire (no earlier
 *   reading for spike or zscore to compare with), and that rule's condition — outside the band
 *   for min_duration_s — is completed by exactly one known reading: the first whose event time
 *   is `min_duration_s` after the first one. min_duration_s is set to MIN_DURATION_S (sensors.yaml
 *   says 300 s) in a copy of the catalogue given to gold, so a run takes minutes, not tens of
 *   them; it changes which reading completes the condition, not the path that reading takes.
 * - Latency = arrival of the `opened` event of the device's incident − the send time of its
 *   completing reading (taken right before kafkajs gets it). An event arriving before its
 *   completing reading was sent would be a false alarm: counted as `early`, not as a latency.
 *
 * The machine's load average is recorded before and after: the figures are only as quiet as it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { createKafka } from "../src/kafka/client.ts";
import { ensureTopic, produce } from "../src/kafka/producer.ts";
import { liveSite } from "./sizes.ts";
import { consumeArgs, freePort, ROOT, spawnTask } from "../src/tasks.ts";
import { brokerList } from "../src/config.ts";
import { percentile } from "./stats.ts";
import { eachLine, goldCycles, loadavg, summary } from "./task_processes.ts";
import { alarmStages, type GoldCycle, stageTable } from "./alarm_stages.ts";

/** The band rule's duration here (sensors.yaml: 300 s); see the module doc. */
const MIN_DURATION_S = 10;
/** CO2 above its critical band (1500 ppm) and inside the sensor range. */
const HIGH_PPM = 2400;

interface Episode {
  device: string;
  /** performance.now() when its completing reading was handed to kafkajs. */
  completingSentAt?: number;
  completingEventMs?: number;
  arrivedAt?: number;
}

/** A copy of sensors.yaml with the co2 band's min_duration_s set to `seconds`. */
async function benchCatalogue(dir: string, seconds: number): Promise<string> {
  const text = await Deno.readTextFile(join(ROOT, "sensors.yaml"));
  const at = text.indexOf("\n  co2:");
  const end = text.indexOf("min_duration_s:", at);
  if (at < 0 || end < 0) throw new Error("sensors.yaml: no co2 min_duration_s to override");
  const lineEnd = text.indexOf("\n", end);
  const patched = text.slice(0, end) + `min_duration_s: ${seconds}` + text.slice(lineEnd);
  const file = join(dir, "sensors-alarm-bench.yaml");
  await Deno.writeTextFile(file, patched);
  return file;
}

/** p50/p95/max of the first and the second half of `xs`. */
function halves(xs: number[]) {
  const mid = Math.floor(xs.length / 2);
  return { first: summary(xs.slice(0, mid)), second: summary(xs.slice(mid)) };
}

/** What one alarm-latency run is given. */
export interface AlarmLatencyOptions {
  brokers: string;
  /** Background load, msg/s. */
  rate: number;
  seconds: number;
  episodes: number;
  /** The deno executable for the tasks (default this one's). */
  deno?: string;
  log?: (line: string) => void;
  /** The topic to use (default a fresh `alarm-latency-…`; the caller deletes it). */
  topic?: string;
  /** Keep the temp dir (lakehouse, catalogue) and say where. */
  keep?: boolean;
}

/** Runs one alarm-latency measurement: see the module doc. */
export async function alarmLatency(o: AlarmLatencyOptions) {
  const { rate, seconds, episodes: nEpisodes } = o;
  const warmup = 20;
  const stagger = Math.max(0.5, (seconds - warmup - MIN_DURATION_S - 15) / nEpisodes);
  const dir = await Deno.makeTempDir({ prefix: "alarm-latency-" });
  const lakehouse = join(dir, "lakehouse");
  await Deno.mkdir(lakehouse);
  const topic = o.topic ?? `alarm-latency-${crypto.randomUUID().slice(0, 8)}`;
  const kafka = createKafka({ brokers: brokerList(o.brokers), clientId: "bench-alarm-latency" });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopic(admin, topic, 3).finally(() => admin.disconnect());
  const load0 = loadavg();
  const log = (l: string) => (o.log ?? console.error)(`alarm-latency: ${l}`);

  const episodes = new Map<string, Episode>();
  let early = 0, otherEvents = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const at = performance.now();
    const body = await req.json().catch(() => ({}));
    const ep = episodes.get(body.device_id);
    if (ep && body.event === "opened" && ep.arrivedAt === undefined) {
      if (ep.completingSentAt === undefined) early++;
      else ep.arrivedAt = at;
    } else if (!ep) otherEvents++;
    return new Response(null, { status: 204 });
  });
  const metricsPort = freePort();
  const sensors = await benchCatalogue(dir, MIN_DURATION_S);
  const consume = spawnTask(
    "consume",
    consumeArgs({ brokers: o.brokers, topic, lakehouse, group: `${topic}-g` }),
    {},
    { stdout: "null", stderr: "piped", deno: o.deno },
  );
  const gold = spawnTask(
    "gold",
    [
      "--lakehouse",
      lakehouse,
      "--watch",
      "--sensors",
      sensors,
      "--notify",
      `http://127.0.0.1:${server.addr.port}/alarms`,
      "--metrics-port",
      String(metricsPort),
    ],
    {},
    { stdout: "piped", stderr: "piped", deno: o.deno },
  );
  const cycles = goldCycles();
  // Each cycle line arrives as the cycle ends: it started its stated seconds before.
  const cycleStarts: GoldCycle[] = [];
  const goldOut = eachLine(gold.stdout, (l) => {
    cycles.onLine(l);
    const m = l.match(/^silver v(\d+), ([\d.]+) s:/);
    if (m) {
      cycleStarts.push({
        silverVersion: Number(m[1]),
        startedAt: Date.now() - Number(m[2]) * 1000,
      });
    }
  });
  const goldErr: string[] = [];
  const goldErrDone = eachLine(gold.stderr, (l) => goldErr.push(l));
  const consumeErr: string[] = [];
  const consumeErrDone = eachLine(consume.stderr, (l) => consumeErr.push(l));

  const stop = new AbortController();
  try {
    const start = Math.ceil(Date.now() / 1000) * 1000;
    const sim = liveSite(11, rate, seconds, start);
    log(`${rate} msg/s for ${seconds} s, ${nEpisodes} episodes every ${stagger.toFixed(1)} s`);
    const background = produce(kafka, topic, sim, { rate, signal: stop.signal });
    const injector = kafka.producer();
    await injector.connect();
    const injections = (async () => {
      const t0 = performance.now();
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < nEpisodes; i++) {
        const device = `alarmbench-f1-co2-${String(i).padStart(3, "0")}`;
        const ep: Episode = { device };
        episodes.set(device, ep);
        const firstAt = t0 + (warmup + i * stagger) * 1000;
        sends.push((async () => {
          await new Promise((r) => setTimeout(r, firstAt - performance.now()));
          const first = Math.floor(Date.now() / 1000) * 1000;
          for (let k = 0; k <= MIN_DURATION_S + 20 && !stop.signal.aborted; k++) {
            const eventMs = first + k * 1000;
            const wait = eventMs - Date.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
            const value = JSON.stringify({
              timestamp: new Date(eventMs).toISOString(),
              device_id: device,
              building: "alarmbench",
              floor: 1,
              type: "co2",
              value: HIGH_PPM + (k % 5),
              unit: "ppm",
            });
            const sentAt = performance.now();
            if (k === MIN_DURATION_S) {
              ep.completingSentAt = sentAt;
              ep.completingEventMs = eventMs;
            }
            await injector.send({ topic, messages: [{ key: device, value }] });
          }
        })());
      }
      await Promise.all(sends);
    })();
    const produced = await background;
    log(`background: ${produced.sent} messages sent`);
    await injections;
    // Events still on their way: wait for every episode's, at most 60 s.
    const deadline = performance.now() + 60_000;
    while (
      [...episodes.values()].some((e) => e.arrivedAt === undefined) &&
      performance.now() < deadline
    ) await new Promise((r) => setTimeout(r, 200));
    await injector.disconnect();
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text())
      .catch((e) => `unavailable: ${e}`);
    const latencies = [...episodes.values()]
      .filter((e) => e.arrivedAt !== undefined)
      .map((e) => (e.arrivedAt! - e.completingSentAt!) / 1000);
    const q = (p: number) => latencies.length ? Number(percentile(latencies, p).toFixed(3)) : null;
    const epoch = (t: number) => performance.timeOrigin + t;
    const stages = await alarmStages(
      lakehouse,
      "alarmbench",
      cycleStarts,
      [...episodes.values()].filter((e) => e.arrivedAt !== undefined).map((e) => ({
        device: e.device,
        sentAt: epoch(e.completingSentAt!),
        eventMs: e.completingEventMs!,
        arrivedAt: epoch(e.arrivedAt!),
      })),
    );
    for (const l of stageTable(stages.stageSeconds)) log(l);
    const goldMetric = (name: string) =>
      metrics.split("\n").find((l) => l.startsWith(name))?.split(" ")[1];
    const result = {
      date: new Date().toISOString(),
      rate,
      seconds,
      backgroundSent: produced.sent,
      episodes: nEpisodes,
      received: latencies.length,
      missing: nEpisodes - latencies.length - early,
      early,
      otherEvents,
      minDurationS: MIN_DURATION_S,
      latencySeconds: {
        p50: q(50),
        p95: q(95),
        p99: q(99),
        max: latencies.length ? Number(Math.max(...latencies).toFixed(3)) : null,
        all: latencies.map((x) => Number(x.toFixed(3))).sort((a, b) => a - b),
      },
      /** Where the seconds went (bench/alarm_stages.ts): per stage, then per episode. */
      stageSeconds: stages.stageSeconds,
      stagesPerEpisode: stages.perEpisode,
      ...cycles.figures(),
      /**
       * The alarm refresh's seconds over the run's first and second half of cycles: a refresh
       * whose cost follows the new rows stays flat while silver fills.
       */
      alarmsSecondsByHalf: halves(cycles.perTable.get("alarms") ?? []),
      goldAlarmLatencyMetric: {
        count: goldMetric("smarttech_alarm_latency_seconds_count"),
        sum: goldMetric("smarttech_alarm_latency_seconds_sum"),
      },
      loadavgBefore: load0,
      loadavgAfter: loadavg(),
      cpus: navigator.hardwareConcurrency,
      /** gold's last stderr lines (notifications, errors): why an episode did not arrive. */
      goldLog: goldErr.slice(-8),
    };
    return result;
  } finally {
    stop.abort();
    for (const child of [gold, consume]) {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
    }
    const [g, c] = await Promise.all([gold.status, consume.status]);
    await Promise.all([goldOut, goldErrDone, consumeErrDone]).catch(() => {});
    if (!g.success) log(`gold exited ${g.code}: ${goldErr.slice(-5).join(" | ")}`);
    if (!c.success) log(`consume exited ${c.code}: ${consumeErr.slice(-5).join(" | ")}`);
    await server.shutdown();
    if (!o.keep) await Deno.remove(dir, { recursive: true });
    else log(`kept ${dir}`);
  }
}

async function main() {
  const { values: o } = parseArgs({
    args: Deno.args,
    options: {
      rate: { type: "string", default: "10000" },
      seconds: { type: "string", default: "120" },
      episodes: { type: "string", default: "30" },
      brokers: { type: "string", default: Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092" },
      out: { type: "string" },
      keep: { type: "boolean" },
    },
  });
  const result = await alarmLatency({
    brokers: o.brokers,
    rate: Number(o.rate),
    seconds: Number(o.seconds),
    episodes: Number(o.episodes),
    keep: o.keep,
  });
  console.log(JSON.stringify(result, null, 2));
  if (o.out) await Deno.writeTextFile(o.out, JSON.stringify(result, null, 2) + "\n");
}

if (import.meta.main) await main();
