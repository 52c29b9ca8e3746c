/**
 * A V8 CPU profile of a Deno process, by hand (`deno run` has no `--cpu-prof`): runs the given
 * `deno run` arguments with `--inspect-wait`, starts the inspector's sampling profiler before
 * the first line runs, stops it when the child prints `--until` on stderr (or exits), writes
 * the `.cpuprofile` (Chrome DevTools' format) and prints the main thread's self time per
 * component of the ingest path. DuckDB's own threads and V8's GC helper threads are not in a V8
 * profile: measure them with `perf record` (see bench/results/journal.md).
 *
 * Run: `deno run --allow-net=127.0.0.1 --allow-run=deno --allow-write bench/cpu_profile.ts
 * out.cpuprofile "caught up" -- <deno run args…>`, e.g. the `consume` task's flags and script
 * followed by `--until-caught-up`.
 *
 * @module
 */

/** One node of a `.cpuprofile`. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

/** The `Profiler.stop` result. */
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Components of the ingest path, matched on a frame's URL (first match wins). */
const COMPONENTS: [string, RegExp][] = [
  ["kafkajs (fetch, record decoding)", /kafkajs/],
  ["decodeReading (JSON.parse, validation, units)", /src\/(sensors|reading)\//],
  ["dedup", /src\/pipeline\/dedup\.ts/],
  ["batch staging (JS side of the appender)", /src\/pipeline\/batch\.ts/],
  ["@duckdb/node-api (appender, queries from JS)", /@duckdb/],
  ["Delta log, commits, snapshots", /src\/delta\//],
  ["ingestor/writer/consumer glue", /src\/(pipeline|kafka)\//],
];

/**
 * Main-thread self time per component: each sample goes to the nearest frame (itself or an
 * ancestor) whose URL names a component, so builtins (JSON.parse, TextDecoder) count for the
 * code that called them; `(garbage collector)`, `(idle)` and `(program)` are their own.
 */
export function componentTimes(p: CpuProfile): { component: string; ms: number; pct: number }[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map<number, string>();
  const componentOf = (id: number): string => {
    const known = memo.get(id);
    if (known) return known;
    const f = byId.get(id)!.callFrame;
    let c: string | undefined;
    if (/^\((garbage collector|idle|program)\)$/.test(f.functionName)) c = f.functionName;
    else c = COMPONENTS.find(([, re]) => re.test(f.url))?.[0];
    if (!c) {
      const up = parent.get(id);
      c = up === undefined ? "other (runtime, timers, startup)" : componentOf(up);
    }
    memo.set(id, c);
    return c;
  };
  const us = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const c = componentOf(id);
    us.set(c, (us.get(c) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const total = [...us.values()].reduce((a, b) => a + b, 0);
  return [...us].sort((a, b) => b[1] - a[1]).map(([component, t]) => ({
    component,
    ms: Math.round(t / 1000),
    pct: Number(((100 * t) / total).toFixed(1)),
  }));
}

async function profile(out: string, until: string, denoArgs: string[]): Promise<CpuProfile> {
  const port = 9229 + Math.floor(Math.random() * 500);
  const child = new Deno.Command("deno", {
    args: ["run", `--inspect-wait=127.0.0.1:${port}`, ...denoArgs],
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  }).spawn();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let ws: WebSocket | null = null;
  let nextId = 1;
  const pending = new Map<number, (r: unknown) => void>();
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      ws!.send(JSON.stringify({ id, method, params }));
    });
  let stopped: Promise<CpuProfile> | null = null;
  const stop = () =>
    stopped ??= send("Profiler.stop").then((r) => (r as { profile: CpuProfile }).profile);
  let buf = "";
  for (;;) {
    const { value, done } = await lines.read();
    if (done) break;
    await Deno.stderr.write(new TextEncoder().encode(value));
    buf += value;
    const url = buf.match(/ws:\/\/\S+/)?.[0];
    if (url && !ws) {
      ws = new WebSocket(url);
      await new Promise((r) => (ws!.onopen = r));
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data as string);
        if (m.id && pending.has(m.id)) pending.get(m.id)!(m.result);
      };
      await send("Profiler.enable");
      await send("Profiler.setSamplingInterval", { interval: 500 });
      await send("Profiler.start");
      await send("Runtime.runIfWaitingForDebugger");
    }
    if (ws && buf.includes(until)) {
      const p = await stop();
      await Deno.writeTextFile(out, JSON.stringify(p));
      ws.close();
      for (;;) {
        const r = await lines.read();
        if (r.done) break;
        await Deno.stderr.write(new TextEncoder().encode(r.value));
      }
      await child.status;
      return p;
    }
    buf = buf.slice(-4096);
  }
  await child.status;
  throw new Error(`the child exited before printing "${until}"`);
}

if (import.meta.main) {
  const dash = Deno.args.indexOf("--");
  const [out, until] = Deno.args.slice(0, dash);
  const p = await profile(out, until, Deno.args.slice(dash + 1));
  const wall = (p.endTime - p.startTime) / 1e6;
  console.log(`main thread, ${wall.toFixed(1)} s profiled:`);
  for (const c of componentTimes(p)) console.log(`${c.pct}%\t${c.ms} ms\t${c.component}`);
}
