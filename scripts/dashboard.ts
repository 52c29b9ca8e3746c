/**
 * `deno task dashboard [--host 127.0.0.1] [--port 8080] [--lakehouse ./lakehouse]` — serves the
 * live dashboard until Ctrl+C. Prints the URL on stdout; everything else is in
 * src/dashboard/server.ts.
 */
import {
  brokerList,
  COMMON_OPTIONS,
  LAKEHOUSE_OPTION,
  numberOption,
  parseCli,
  runMain,
  UsageError,
} from "../src/config.ts";
import { startDashboard } from "../src/dashboard/server.ts";
import { openCatalogue } from "../src/pipeline/catalogue_watch.ts";
import { SENSORS_OPTION } from "../src/reading/catalogue_file.ts";
import { metricsAddress, metricsOptionSpecs } from "../src/metrics/options.ts";
import { serveDashboardMetrics } from "../src/dashboard/dashboard_metrics.ts";

export const USAGE = "Usage: deno task dashboard [--host <addr>] [--port <n>] [--lakehouse <dir>]";

export const SPECS = {
  ...LAKEHOUSE_OPTION,
  host: {
    type: "string",
    env: "DASHBOARD_HOST",
    default: "127.0.0.1",
    description: "Interface to bind; anything but loopback exposes the data to the network",
  },
  port: {
    type: "string",
    env: "DASHBOARD_PORT",
    default: "8080",
    description: "TCP port (0 picks a free one)",
  },
  "interval-ms": {
    type: "string",
    env: "DASHBOARD_INTERVAL_MS",
    default: "2000",
    description: "Refresh and push period in milliseconds",
  },
  interval: {
    type: "string",
    description:
      "Deprecated alias of --interval-ms (it was in ms, where --interval elsewhere is seconds)",
  },
  brokers: {
    ...COMMON_OPTIONS.brokers,
    description: "Kafka brokers, for the consumer-lag figure only (empty: no lag shown)",
  },
  topic: COMMON_OPTIONS.topic,
  sensors: SENSORS_OPTION,
  "app-id": {
    type: "string",
    env: "INGEST_APP_ID",
    default: "smarttech",
    description: "The consumers' --app-id (txn id prefix), to match tables to partitions",
  },
  ...metricsOptionSpecs("DASHBOARD"),
} as const;

await runMain(async () => {
  const { options, positionals } = parseCli(Deno.args, SPECS, USAGE);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const port = numberOption("port", options.port, { min: 0, integer: true });
  if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
  if (options.interval) {
    console.error("warning: the dashboard's --interval is deprecated; use --interval-ms");
  }
  const intervalMs = options.interval
    ? numberOption("interval", options.interval, { min: 100, integer: true })
    : numberOption("interval-ms", options["interval-ms"], { min: 100, integer: true });
  if (options.host.trim() === "") throw new UsageError("--host must not be empty");
  const { catalogue } = await openCatalogue(options.sensors);
  const metricsAt = metricsAddress(options);
  const dash = await startDashboard({
    catalogue,
    lakehouse: options.lakehouse,
    host: options.host,
    port,
    intervalMs,
    kafka: options.brokers.trim()
      ? { brokers: brokerList(options.brokers), topic: options.topic, appName: options["app-id"] }
      : undefined,
  });
  if (options.host !== "127.0.0.1" && options.host !== "localhost" && options.host !== "::1") {
    console.error(
      `warning: listening on ${options.host}: anyone who can reach it can read the data`,
    );
  }
  console.error(
    `dashboard of ${options.lakehouse}, refreshing every ${intervalMs} ms (Ctrl+C stops)`,
  );
  console.log(dash.url);
  const metrics = metricsAt && serveDashboardMetrics(metricsAt, dash);
  const { promise, resolve } = Promise.withResolvers<void>();
  const stop = () => resolve();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await promise;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  const stats = dash.stats();
  await metrics?.close();
  await dash.close();
  console.error(
    `dashboard stopped: ${stats.refreshes} refreshes, ${stats.queries} queries, ` +
      `${stats.refreshMs} ms refreshing`,
  );
});
