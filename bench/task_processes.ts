/**
 * What the bench scenarios that run the real long-running tasks as processes (alarm-latency,
 * soak) read from them: their output line by line, gold --watch's cycle lines, their RSS.
 *
 * @module
 */
import { percentile } from "./stats.ts";

/** Lines of a stream, each handed to `onLine` as it arrives; resolves at its end. */
export async function eachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (l: string) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    parts.forEach(onLine);
  }
}

/** The machine's load average (1/5/15 min), two decimals. */
export function loadavg(): number[] {
  return Deno.loadavg().map((x) => Number(x.toFixed(2)));
}

/** p50/p95/max of `xs` (nulls when empty), three decimals. */
export function summary(
  xs: number[],
): { n: number; p50: number | null; p95: number | null; max: number | null } {
  const r = (x: number) => Number(x.toFixed(3));
  return xs.length
    ? {
      n: xs.length,
      p50: r(percentile(xs, 50)),
      p95: r(percentile(xs, 95)),
      max: r(Math.max(...xs)),
    }
    : { n: 0, p50: null, p95: null, max: null };
}

/**
 * gold --watch's refresh lines — `silver v12, 0.84 s: alarms v5 (3 rows, 0.41 s), …` — as
 * cycle times and per-table times; `onLine` takes each stdout line.
 */
export function goldCycles(): {
  onLine: (l: string) => void;
  cycles: number[];
  perTable: Map<string, number[]>;
  /** Cycle and per-table figures for a result. */
  figures: () => {
    cycleSeconds: ReturnType<typeof summary>;
    tableSeconds: Record<string, ReturnType<typeof summary>>;
  };
} {
  const cycles: number[] = [];
  const perTable = new Map<string, number[]>();
  const onLine = (l: string) => {
    const m = l.match(/^silver v\d+, ([\d.]+) s: (.*)$/);
    if (!m) return;
    cycles.push(Number(m[1]));
    for (const t of m[2].matchAll(/(\w+) v\d+ \(\d+ rows, ([\d.]+) s\)/g)) {
      perTable.set(t[1], [...perTable.get(t[1]) ?? [], Number(t[2])]);
    }
  };
  return {
    onLine,
    cycles,
    perTable,
    figures: () => ({
      cycleSeconds: summary(cycles),
      tableSeconds: Object.fromEntries([...perTable].map(([t, xs]) => [t, summary(xs)])),
    }),
  };
}

/**
 * A process's resident set, bytes (null when gone). Read through `ps -o rss=` (VmRSS, KiB):
 * Deno refuses to read /proc/<pid>/status without --allow-all, and the bench's --allow-run
 * names `ps`.
 */
export async function rssBytes(pid: number): Promise<number | null> {
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output()
    .catch(() => null);
  const kib = out?.success ? Number(new TextDecoder().decode(out.stdout).trim()) : NaN;
  return Number.isFinite(kib) && kib > 0 ? kib * 1024 : null;
}

/**
 * A process's CPU time so far (user + system), whole seconds (null when gone), through
 * `ps -o times=` for the reason {@link rssBytes} gives.
 */
export async function cpuSeconds(pid: number): Promise<number | null> {
  const out = await new Deno.Command("ps", { args: ["-o", "times=", "-p", String(pid)] }).output()
    .catch(() => null);
  const s = out?.success ? Number(new TextDecoder().decode(out.stdout).trim()) : NaN;
  return Number.isFinite(s) ? s : null;
}

/** Ends `children` with SIGTERM and waits for them; returns each one's exit code by name. */
export async function stopChildren(
  children: Record<string, Deno.ChildProcess>,
): Promise<Record<string, number>> {
  const codes: Record<string, number> = {};
  await Promise.all(
    Object.entries(children).map(async ([name, child]) => {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      codes[name] = (await child.status).code;
    }),
  );
  return codes;
}
