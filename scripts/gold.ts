/**
 * `deno task gold [--once | --watch --interval S] [--full] [--sensors FILE]` — materialise the
 * gold tables (sql/gold, sql/alarms) from silver, incrementally; alarm limits per type, the
 * energy types and units come from the sensor catalogue (default ./sensors.yaml). Prints one line per table on stdout: mode,
 * rows, version, seconds. With --watch it refreshes as soon as silver has a new version (at the
 * latest every S seconds) until Ctrl+C, printing only when silver changed. All logic lives in
 * src/gold/.
 *
 * With `--notify URL` it also POSTs incident events to each URL (src/notify/), beside the
 * refreshes, never holding them up; with --watch as soon as incidents are committed. Without
 * --watch it sends this refresh's events once, waits for them, and says how many it sent.
 */
import {
  LAKEHOUSE_OPTION,
  numberOption,
  parseCli,
  readEnv,
  resolveLakehouse,
  runMain,
  UsageError,
} from "../src/config.ts";
import {
  type Endpoint,
  NotifyConfigError,
  type NotifyFormat,
  parseEndpoint,
} from "../src/notify/endpoint.ts";
import { Notifier } from "../src/notify/notifier.ts";
import { type GoldTableResult, refreshGold } from "../src/gold/refresh.ts";
import { GOLD_TABLES } from "../src/gold/tables.ts";
import { openCatalogue } from "../src/pipeline/catalogue_watch.ts";
import type { SensorCatalogue } from "../src/reading/catalogue.ts";
import { SENSORS_OPTION } from "../src/reading/catalogue_file.ts";
import { startTicker } from "../src/progress.ts";
import { metricsAddress, metricsOptionSpecs } from "../src/metrics/options.ts";
import { GoldMonitor, type NotificationOutcome } from "../src/gold/gold_metrics.ts";
import { waitForSilver } from "../src/gold/wait.ts";
import { silverPending, waitForCommit } from "../src/gold/tail.ts";
import { AggregateCadence } from "../src/gold/schedule.ts";
import { ReadingsCache } from "../src/gold/readings_cache.ts";
import { GoldSession } from "../src/gold/session.ts";
import { join } from "node:path";
import { joinLocation } from "../src/storage/location.ts";

/**
 * DuckDB's memory limit in --watch unless --memory-limit says otherwise (issue 28: the whole
 * process within 512 MB at building-fleet scale; the limit bounds DuckDB's buffers only, the
 * JS heap and Deno come on top).
 */
const WATCH_MEMORY_LIMIT = "512MB";

/**
 * Bytes of a DuckDB memory size — a number and a unit (KB, MB, GB, KiB, MiB, GiB), KB = 1000
 * bytes as DuckDB reads it — or null when the text is not one.
 */
function sizeBytes(size: string): number | null {
  const m = size.trim().match(/^(\d+(?:\.\d+)?)\s*([KMG])(i?)B$/i);
  if (!m) return null;
  const base = m[3] ? 1024 : 1000;
  return Number(m[1]) * base ** ("KMG".indexOf(m[2].toUpperCase()) + 1);
}

export const USAGE = "Usage: deno task gold [--once | --watch --interval S] [--full] [options]";

export const SPECS = {
  ...LAKEHOUSE_OPTION,
  sensors: SENSORS_OPTION,
  once: { type: "boolean", description: "Refresh once and exit (the default)" },
  watch: {
    type: "boolean",
    env: "GOLD_WATCH",
    description: "Refresh as soon as silver has a new version (probed every 100 ms), at the " +
      "latest every --interval seconds, until Ctrl+C",
  },
  interval: {
    type: "string",
    env: "GOLD_INTERVAL",
    default: "5",
    description: "Most seconds between refreshes with --watch (a new silver version wakes it " +
      "sooner), and the most a table off the alarm path waits while new versions keep coming",
  },
  full: { type: "boolean", description: "Recompute every table from all of silver" },
  threads: { type: "string", env: "DUCKDB_THREADS", description: "DuckDB threads" },
  "memory-limit": {
    type: "string",
    env: "GOLD_MEMORY_LIMIT",
    description: `DuckDB's memory limit, e.g. 384MB or 1GB (default ${WATCH_MEMORY_LIMIT} with ` +
      "--watch, DuckDB's own otherwise); past it DuckDB spills to a temporary directory",
  },
  table: {
    type: "string",
    env: "GOLD_TABLES",
    multiple: true,
    description: "Only this gold table (repeatable or comma-separated; default all)",
  },
  notify: {
    type: "string",
    multiple: true,
    env: "GOLD_NOTIFY_URLS",
    description: "POST incident events to this http(s) URL (repeatable; env comma-separated; " +
      "slack+https://… for one Slack webhook among others)",
  },
  "notify-format": {
    type: "string",
    env: "GOLD_NOTIFY_FORMAT",
    default: "json",
    description: "Event body: json (smarttech.incident_event/1) or slack (incoming webhook)",
  },
  "dashboard-url": {
    type: "string",
    env: "GOLD_DASHBOARD_URL",
    default: "http://127.0.0.1:8080",
    description: "Dashboard base URL for the events' links",
  },
  ...metricsOptionSpecs("GOLD"),
} as const;

/** How long a single refresh (--once) waits for its events to be delivered before exiting. */
const ONCE_DRAIN_MS = 30_000;

/**
 * The --notify endpoints, checked before anything runs: a bad URL or a missing network
 * permission is a usage error at start, not a failure at the first incident.
 */
async function notifyEndpoints(
  urls: string,
  format: string,
  dashboardUrl: string,
): Promise<Endpoint[]> {
  const list = urls.split(",").map((u) => u.trim()).filter(Boolean);
  if (list.length === 0) return [];
  const endpoints: Endpoint[] = [];
  try {
    for (const u of list) endpoints.push(await parseEndpoint(u, format as NotifyFormat));
  } catch (err) {
    if (err instanceof NotifyConfigError) {
      throw new UsageError(err.message.replace(/^notification URL/, "URL"));
    }
    throw err;
  }
  if (!/^https?:\/\/[^/]/.test(dashboardUrl) || !URL.canParse(dashboardUrl)) {
    throw new UsageError(`--dashboard-url "${dashboardUrl}" is not an http(s) URL`);
  }
  for (const ep of endpoints) {
    const host = ep.url.host;
    if (Deno.permissions.querySync({ name: "net", host }).state !== "granted") {
      throw new UsageError(
        `--notify needs network access to ${host}: deno task gold has it; run with ` +
          `--allow-net=${host} (see README, Notifications)`,
      );
    }
  }
  return endpoints;
}

function report(results: GoldTableResult[]): void {
  const w = Math.max(...results.map((r) => r.table.length), 5);
  console.log(
    `${"table".padEnd(w)}  ${"mode".padEnd(11)}  ${"rows".padStart(10)}  ${
      "version".padStart(7)
    }  ${"seconds".padStart(7)}`,
  );
  for (const r of results) {
    console.log(
      `${r.table.padEnd(w)}  ${r.mode.padEnd(11)}  ${String(r.rows).padStart(10)}  ${
        String(r.version).padStart(7)
      }  ${r.seconds.toFixed(2).padStart(7)}`,
    );
  }
  const total = results.reduce((s, r) => s + r.seconds, 0);
  console.log(`silver v${results[0]?.silverVersion ?? "?"}, ${total.toFixed(2)} s in all`);
}

/**
 * One refresh of --watch as one line: `silver v12, 0.84 s: alarms v5 (3 rows, 0.41 s), …`;
 * `seconds` is the whole cycle's (opening DuckDB and reading the snapshots included), default
 * the sum of the tables'.
 */
export function watchLine(results: GoldTableResult[], seconds?: number): string {
  const total = seconds ?? results.reduce((s, r) => s + r.seconds, 0);
  const changed = results.filter((r) => r.mode !== "unchanged")
    .map((r) => `${r.table} v${r.version} (${r.written} rows, ${r.seconds.toFixed(2)} s)`);
  return `silver v${results[0]?.silverVersion ?? "?"}, ${total.toFixed(2)} s: ${
    changed.join(", ")
  }`;
}

async function main(): Promise<void> {
  const { options, positionals } = parseCli(Deno.args, SPECS, USAGE);
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"\n\n${USAGE}`);
  }
  if (options.once && options.watch) throw new UsageError("--once and --watch exclude each other");
  const interval = numberOption("interval", options.interval, { min: 0.1 });
  const threads = options.threads
    ? numberOption("threads", options.threads, { integer: true, min: 1 })
    : undefined;
  const memoryLimit = options["memory-limit"] || (options.watch ? WATCH_MEMORY_LIMIT : undefined);
  if (memoryLimit !== undefined && sizeBytes(memoryLimit) === null) {
    throw new UsageError(`--memory-limit "${memoryLimit}" is not a size such as 384MB or 1GB`);
  }
  const tables = options.table ? options.table.split(",").filter(Boolean) : undefined;
  const names = GOLD_TABLES.map((d) => d.name);
  const unknown = (tables ?? []).filter((t) => !names.includes(t));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown gold table${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; ` +
        `the gold tables are: ${names.join(", ")}`,
    );
  }
  const metricsAt = metricsAddress(options);
  if (metricsAt && !options.watch) throw new UsageError("--metrics-port needs --watch");
  const monitor = metricsAt &&
    new GoldMonitor(metricsAt, { lakehouse: options.lakehouse, intervalMs: interval * 1000 });
  const lakehouse = options.watch
    ? await waitUntilTablesExist(options.lakehouse, interval, monitor)
    : await resolveLakehouse(options.lakehouse);
  if (lakehouse === null) return await monitor?.close(); // stopped while waiting
  // Alarm limits per type, energy types and units: read once, for every refresh of this run.
  const { catalogue } = await openCatalogue(options.sensors);
  // A one-off refresh logs each table as it finishes; --watch says one line per refresh
  // instead (watchLine), since it refreshes on every silver commit.
  const log = (l: string) => {
    if (!options.watch) console.error(l);
  };
  const endpoints = await notifyEndpoints(
    options.notify,
    options["notify-format"],
    options["dashboard-url"],
  );
  const attempts = { delivered: 0, rejected: 0, failed: 0 };
  const notifier = endpoints.length === 0 ? null : await Notifier.start({
    lakehouse,
    endpoints,
    dashboardUrl: options["dashboard-url"],
    secret: readEnv("GOLD_NOTIFY_SECRET") || undefined,
    log: (l) => console.error(l),
    onAttempt: (outcome, event) => {
      attempts[outcome]++;
      monitor?.notification(outcome, event);
    },
  });
  try {
    await refreshLoop(lakehouse, options, notifier, {
      attempts,
      interval,
      threads,
      memoryLimit,
      tables,
      log,
      catalogue,
      monitor,
    });
  } finally {
    await notifier?.stop();
    await monitor?.close();
  }
}

/** --watch: the lakehouse once its silver table exists; null on SIGINT/SIGTERM meanwhile. */
async function waitUntilTablesExist(
  path: string,
  interval: number,
  monitor: GoldMonitor | null,
): Promise<string | null> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    return await waitForSilver(path, {
      intervalMs: interval * 1000,
      log: (l) => console.error(l),
      signal: stop.signal,
      onWaiting: (what) => monitor?.waiting(what),
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

/**
 * `--notify` without `--watch`: the events of this refresh are sent once, before exiting, and
 * the run says what it sent — never nothing silently (issue 29). An endpoint seen for the first
 * time gets the events from the incidents current when it starts on, not the past's.
 */
async function drainOnce(
  notifier: Notifier,
  attempts: Record<NotificationOutcome, number>,
): Promise<void> {
  const caughtUp = await notifier.drain(ONCE_DRAIN_MS);
  const { delivered, rejected, failed } = attempts;
  if (delivered + rejected + failed === 0) {
    console.error(
      "gold: --notify: no new incident events to send (this refresh opened, escalated or " +
        "cleared nothing); add --watch to keep sending as new data arrives",
    );
  } else {
    console.error(
      `gold: --notify: ${delivered} incident event(s) delivered, ${rejected} rejected` +
        (failed > 0 ? `, ${failed} failed attempt(s)` : ""),
    );
  }
  if (!caughtUp) {
    console.error(
      `gold: some incident events are not delivered yet (${
        ONCE_DRAIN_MS / 1000
      } s); the next run resumes them`,
    );
  }
}

/**
 * Removes the readings cache's directory at exit. DuckDB may still write its file while the last
 * refresh's database closes, so a removal that leaves it behind is retried a few times.
 */
async function removeCacheDir(dir: string): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (!await Deno.stat(dir).then(() => true, () => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function refreshLoop(
  lakehouse: string,
  options: { full: boolean; watch: boolean },
  notifier: Notifier | null,
  o: {
    /** Webhook attempts so far by outcome (the summary of a run without --watch). */
    attempts: Record<NotificationOutcome, number>;
    interval: number;
    threads?: number;
    /** DuckDB's memory limit (--memory-limit). */
    memoryLimit?: string;
    tables?: string[];
    log: (l: string) => void;
    catalogue: SensorCatalogue;
    monitor: GoldMonitor | null;
  },
): Promise<void> {
  const { interval, threads, memoryLimit, tables, log, catalogue, monitor } = o;
  const silverPath = joinLocation(lakehouse, "silver");
  // The aggregates wait while a newer silver version is pending, each at most --interval
  // (src/gold/schedule.ts): the next alarm refresh starts at once.
  const cadence = new AggregateCadence(interval * 1000);
  // Recent silver rows for the alarms, kept between refreshes (src/gold/readings_cache.ts).
  const cacheDir = options.watch ? await Deno.makeTempDir({ prefix: "gold-watch-" }) : null;
  const readingsCache = cacheDir ? new ReadingsCache(join(cacheDir, "readings.duckdb")) : undefined;
  // One DuckDB, set up once, for every cycle (src/gold/session.ts).
  const session = options.watch
    ? new GoldSession({
      threads,
      // A long-running watcher bounds DuckDB (--memory-limit; DUCKDB_MEMORY_LIMIT overrides it)
      // and spills into its own temporary directory, removed at exit.
      memoryLimit,
      tempDirectory: join(cacheDir!, "spill"),
      // What DuckDB keeps between refreshes is not bounded by its limit: a new one once the
      // process passes three quarters of it.
      recycleAboveRssBytes: memoryLimit ? 0.75 * sizeBytes(memoryLimit)! : undefined,
    })
    : undefined;
  let cycleSilver: number | undefined;
  const run = async (full: boolean) => {
    monitor?.refreshStarted();
    cadence.begin();
    cycleSilver = undefined;
    let results;
    try {
      results = await refreshGold(lakehouse, {
        full,
        threads,
        tables,
        session,
        log,
        catalogue,
        alarmsFirst: true,
        readingsCache,
        defer: async (table) =>
          options.watch && cycleSilver !== undefined &&
          cadence.mayDefer(table, await silverPending(silverPath, cycleSilver)),
        // Events leave as soon as incidents are committed, before the other rollups.
        onTable: (r) => {
          cycleSilver = r.silverVersion;
          cadence.upToDate(r.table);
          monitor?.tableRefreshed(r);
          if (r.table === "incidents" && r.mode !== "unchanged") notifier?.poke();
        },
      });
    } catch (err) {
      monitor?.refreshFailed(err);
      throw err;
    }
    notifier?.poke();
    await monitor?.refreshed(results);
    return results;
  };

  if (!options.watch) {
    // One log line per table as it finishes; on a terminal a ticker shows the work in between.
    const total = tables?.length ?? GOLD_TABLES.length;
    let done = 0;
    const ticker = startTicker(() => `gold: ${done}/${total} tables refreshed …`);
    try {
      report(
        await refreshGold(lakehouse, {
          full: options.full,
          threads,
          memoryLimit,
          tables,
          catalogue,
          log: (l) => {
            done++;
            ticker.log(l);
          },
        }),
      );
    } finally {
      ticker.stop();
    }
    if (notifier) await drainOnce(notifier, o.attempts);
    return;
  }
  // Between refreshes: wake as soon as silver's next version exists (src/gold/tail.ts), at the
  // latest after --interval.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    let first = true;
    while (!stop.signal.aborted) {
      const t0 = performance.now();
      const results = await run(first && options.full);
      first = false;
      if (results.some((r) => r.mode !== "unchanged")) {
        console.log(watchLine(results, (performance.now() - t0) / 1000));
      }
      if (stop.signal.aborted) break;
      await waitForCommit(silverPath, results[0].silverVersion + 1, {
        timeoutMs: interval * 1000,
        signal: stop.signal,
        onError: (err) => log(`gold: probing ${silverPath} for a new version failed: ${err}`),
      });
    }
    console.error("gold: stopped");
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    session?.close();
    if (cacheDir) await removeCacheDir(cacheDir);
  }
}

if (import.meta.main) await runMain(main);
