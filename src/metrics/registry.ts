/**
 * The Prometheus registry every long-running task exposes: prom-client's default process and
 * runtime metrics, minus those that cannot work under Deno, plus the task's own `smarttech_*`
 * metrics registered on it.
 *
 * What does not work under Deno (checked with Deno 2.9, prom-client 15.1): the collectors that
 * read `/proc/self/status`, `/proc/self/fd` and `/proc/self/limits` (Deno grants /proc/self only
 * with --allow-all, which no task gets), so `process_resident_memory_bytes`,
 * `process_virtual_memory_bytes`, `process_heap_bytes`, `process_open_fds` and
 * `process_max_fds` would read 0 for ever; and Node's handle/request introspection
 * (`process._getActiveHandles`) that Deno does not have. Those are removed, and
 * `process_resident_memory_bytes` comes back from `Deno.memoryUsage().rss`, which needs no
 * permission. CPU (`process_cpu_*_seconds_total`, from process.cpuUsage), the start time, the
 * V8 heap and event-loop lag metrics work as they do under Node.
 */
import client from "prom-client";

export type { Registry } from "prom-client";
export { Counter, Gauge, Histogram } from "prom-client";

/** Default metrics that read 0 (or nothing) under Deno without --allow-all. */
export const UNSUPPORTED_DEFAULT_METRICS = [
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_heap_bytes",
  "process_open_fds",
  "process_max_fds",
  "nodejs_active_handles",
  "nodejs_active_handles_total",
  "nodejs_active_requests",
  "nodejs_active_requests_total",
] as const;

/** A registry with the default metrics that work under Deno (see the module doc). */
export function createRegistry(): client.Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  for (const name of UNSUPPORTED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  new client.Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers: [registry],
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
  return registry;
}

/**
 * Exponential histogram buckets from `start` to at least `end`, by `factor` (what Prometheus
 * calls exponential buckets, with the count derived from the range).
 */
export function bucketsBetween(start: number, end: number, factor = 2): number[] {
  const out: number[] = [];
  for (let b = start; out.length === 0 || out[out.length - 1] < end; b *= factor) {
    out.push(Number(b.toPrecision(3)));
  }
  return out;
}

/** A gauge whose value is computed at each scrape by `compute(gauge)` (may be async). */
export function scrapedGauge<L extends string = string>(
  registry: client.Registry,
  spec: { name: string; help: string; labelNames?: readonly L[] },
  compute: (gauge: client.Gauge<L>) => void | Promise<void>,
): client.Gauge<L> {
  return new client.Gauge<L>({
    ...spec,
    registers: [registry],
    collect() {
      return compute(this);
    },
  });
}

/**
 * A counter that mirrors a running total kept elsewhere (`read()`, never decreasing), brought up
 * to date at each scrape.
 */
export function scrapedCounter(
  registry: client.Registry,
  spec: { name: string; help: string },
  read: () => number,
): client.Counter {
  let seen = 0;
  return new client.Counter({
    ...spec,
    registers: [registry],
    collect() {
      const now = read();
      if (now > seen) this.inc(now - seen);
      seen = Math.max(seen, now);
    },
  });
}
