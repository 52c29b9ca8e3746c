/**
 * Load figures for the dashboard (not part of the suite): server CPU while 10 viewers watch,
 * on an idle lakehouse and while ingestion commits every second.
 *
 * `deno run -A tests/dashboard_load.ts [seconds=30] [viewers=10]` (THREADS=1 adds CPU per
 * thread). The dashboard runs as its
 * own process with the `dashboard` task's permissions, so its CPU time is read from
 * /proc/<pid>/stat alone; ingestion runs in this process through the real Ingestor.
 */
import { Ingestor } from "../src/pipeline/ingestor.ts";
import type { SourceRecord } from "../src/pipeline/batch.ts";
import { createSimulator } from "../src/simulator/simulator.ts";
import { seedLakehouse } from "./dashboard_seed.ts";

const seconds = Number(Deno.args[0] ?? 30);
const viewers = Number(Deno.args[1] ?? 10);
/** Seconds per clock tick (Linux USER_HZ is 100). */
const TICK = 1 / 100;

function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK; // utime + stime
}

/** CPU seconds per live thread (id → name, seconds). */
function threadCpu(pid: number): Map<string, [string, number]> {
  const out = new Map<string, [string, number]>();
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const st = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
      const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
      out.set(t.name, [
        st.slice(st.indexOf("(") + 1, st.lastIndexOf(")")),
        (Number(f[11]) + Number(f[12])) * TICK,
      ]);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

const lakehouse = await Deno.makeTempDir({ prefix: "dashboard_load_" });
const seedEnd = Date.UTC(2025, 11, 15, 12);
const seeded = await seedLakehouse(lakehouse, {
  buildings: 3,
  floors: 3,
  hours: 24,
  intervalSeconds: 30,
  end: seedEnd,
});
console.error(`seeded ${seeded.silverRows} silver rows (24 h, 36 devices) in ${lakehouse}`);

const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-read",
    "--allow-ffi",
    "--allow-net",
    "--allow-env=LAKEHOUSE_DIR,DASHBOARD_*,DUCKDB_*,DEBUG,NODE_*",
    "scripts/dashboard.ts",
    "--lakehouse",
    lakehouse,
    "--port",
    "0",
  ],
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
let url = "";
while (!url.includes("\n")) url += (await reader.read()).value ?? "";
url = url.trim();
const base = cpuSeconds(child.pid);

async function measure(label: string, n: number, during?: () => Promise<void>) {
  const controllers: AbortController[] = [];
  let events = 0, bytes = 0;
  for (let i = 0; i < n; i++) {
    const ac = new AbortController();
    controllers.push(ac);
    const range = i % 2 ? "day" : "hour";
    const building = ["A", "B", "C"][i % 3];
    fetch(`${url}events?range=${range}&building=${building}`, { signal: ac.signal }).then(
      async (res) => {
        const decoder = new TextDecoder();
        for await (const chunk of res.body!) {
          bytes += chunk.length;
          events += decoder.decode(chunk, { stream: true }).match(/^event: /gm)?.length ?? 0;
        }
      },
    ).catch(() => {});
  }
  await new Promise((r) => setTimeout(r, 1000));
  const c0 = cpuSeconds(child.pid);
  const threads0 = threadCpu(child.pid);
  const t0 = performance.now();
  const stop = { done: false };
  const work = during
    ? (async () => {
      while (!stop.done) await during();
    })()
    : Promise.resolve();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  stop.done = true;
  await work;
  const cpu = cpuSeconds(child.pid) - c0;
  if (Deno.env.get("THREADS")) {
    const after = threadCpu(child.pid);
    for (const [id, [name, c]] of after) {
      const d = c - (threads0.get(id)?.[1] ?? 0);
      if (d > 0.1) console.log(`  thread ${id} ${name}: ${d.toFixed(2)} s`);
    }
  }
  const wall = (performance.now() - t0) / 1000;
  for (const ac of controllers) ac.abort();
  console.log(
    `${label}: ${n} viewers, ${wall.toFixed(1)} s: server CPU ${cpu.toFixed(2)} s = ` +
      `${(100 * cpu / wall).toFixed(1)} % of one core; ${events} events, ` +
      `${(bytes / 1024).toFixed(0)} KiB pushed`,
  );
  await new Promise((r) => setTimeout(r, 500));
}

await measure("idle lakehouse, no viewer", 0);
await measure("idle lakehouse", viewers);

// Live ingestion at the demo rate: one reading per device per second, one commit per second.
const sim = createSimulator({
  seed: 11,
  start: seedEnd,
  intervalSeconds: 1,
  topology: { buildings: 3, floors: 3, devicesPerFloor: 1 },
});
const ingestor = await Ingestor.open({ lakehouse, queryId: "dashboard-load", threads: 1 });
let position = 0;
const devices = sim.topology.devices.length;
await measure("ingesting 36 rows/s (1 commit/s)", viewers, async () => {
  const t = performance.now();
  const records: SourceRecord[] = sim.nextBatch(devices).map((m) => ({
    appId: "file:dashboard_load:0:0",
    position: position++,
    source: "file",
    topic: null,
    partition: null,
    key: m.key,
    kafkaTimestampMs: null,
    file: "dashboard_load",
    payload: m.value,
  }));
  await ingestor.exclusive(async () => {
    await ingestor.addAll(records);
    await ingestor.flushNow();
  });
  await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - t))));
});
await ingestor.close();
console.log(`dashboard process total CPU ${(cpuSeconds(child.pid) - base).toFixed(2)} s`);
child.kill("SIGTERM");
await child.status;
await Deno.remove(lakehouse, { recursive: true });
