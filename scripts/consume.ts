/**
 * `deno task consume`: Kafka → bronze, silver, quarantine (Delta), exactly once.
 */
import {
  brokerList,
  COMMON_OPTIONS,
  numberOption,
  type OptionSpecs,
  parseCli,
  runMain,
  summaryJson,
} from "../src/config.ts";
import {
  createKafka,
  KAFKA_SECURITY_OPTIONS,
  securityFromOptions,
  waitForBrokers,
} from "../src/kafka/client.ts";
import { startConsumer } from "../src/pipeline/sources/kafka.ts";
import { INGEST_OPTIONS, ingestorOptions } from "../src/pipeline/cli_options.ts";
import { Ingestor } from "../src/pipeline/ingestor.ts";
import { openCatalogue, watchCatalogue } from "../src/pipeline/catalogue_watch.ts";
import { metricsAddress, metricsOptionSpecs } from "../src/metrics/options.ts";
import { ConsumeMonitor } from "../src/pipeline/sources/kafka_metrics.ts";

export const OPTIONS = {
  ...COMMON_OPTIONS,
  group: {
    type: "string",
    env: "KAFKA_GROUP",
    default: "smarttech-lakehouse",
    description: "Consumer group; run several consume processes with one group to share partitions",
  },
  "app-id": {
    type: "string",
    env: "INGEST_APP_ID",
    default: "smarttech",
    description: "Prefix of the Delta txn ids (<app>-<topic>-<partition>); keep it stable",
  },
  "until-caught-up": {
    type: "boolean",
    env: "CONSUME_UNTIL_CAUGHT_UP",
    description: "Exit 0 once every partition reached its end offset at start, all committed",
  },
  "progress-interval": {
    type: "string",
    env: "CONSUME_PROGRESS_S",
    default: "5",
    description: "Seconds between progress lines on stderr (0: none)",
  },
  "session-timeout": {
    type: "string",
    env: "CONSUME_SESSION_TIMEOUT_MS",
    default: "10000",
    description: "Group session timeout in ms: how soon a dead member's partitions move (min 6000)",
  },
  ...INGEST_OPTIONS,
  ...KAFKA_SECURITY_OPTIONS,
  ...metricsOptionSpecs("CONSUME"),
} as const satisfies OptionSpecs;

await runMain(async () => {
  const { options: o } = parseCli(Deno.args, OPTIONS, "Usage: deno task consume [options]");
  // Before anything else: a bad catalogue stops the task with FILE:LINE, nothing ingested.
  const sensors = await openCatalogue(o.sensors);
  const client = {
    brokers: brokerList(o.brokers),
    clientId: "smarttech-consume",
    security: securityFromOptions(o),
  };
  const metrics = metricsAddress(o);
  const monitor = metrics && new ConsumeMonitor({
    ...metrics,
    brokers: o.brokers,
    topic: o.topic,
    group: o.group,
    appName: o["app-id"],
    maxLatencyMs: Number(o["max-latency-ms"]),
  });
  if (monitor) console.error(`metrics on ${monitor.server.url}/metrics and /healthz`);
  // SIGTERM/SIGINT end every phase with exit 0: while waiting for the broker nothing is held,
  // so at once; while the tables open, once they are; then after a last flush and commit.
  let stopRequested = false;
  let onStop: () => void = () => Deno.exit(0);
  const onSignal = () => {
    stopRequested = true;
    onStop();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await waitForBrokers(client, (attempt, delayMs, error) => {
    monitor?.brokerUnreachable(String(error));
    console.error(
      `broker ${o.brokers} unreachable (${error}); retrying in ${(delayMs / 1000).toFixed(1)} s ` +
        `(attempt ${attempt}, backoff up to 5 s; Ctrl+C stops)`,
    );
  });
  onStop = () => {};
  const ingestor = await Ingestor.open({
    ...ingestorOptions(o, o.lakehouse, `consume-${o.group}`),
    catalogue: sensors.catalogue,
  });
  monitor?.attachIngestor(ingestor);
  const watch = watchCatalogue(sensors.file, ingestor, (line) => console.error(line));
  const kafka = createKafka({ ...client, retries: 30 });
  console.error(`consuming ${o.topic} from ${o.brokers} into ${o.lakehouse} (group ${o.group})`);
  let running;
  try {
    running = await startConsumer(kafka, ingestor, {
      topic: o.topic,
      groupId: o.group,
      appName: o["app-id"],
      untilCaughtUp: o["until-caught-up"],
      progressIntervalMs: numberOption("progress-interval", o["progress-interval"], { min: 0 }) *
        1000,
      sessionTimeoutMs: numberOption("session-timeout", o["session-timeout"], {
        integer: true,
        min: 6000,
      }),
    });
  } catch (err) {
    watch.close();
    ingestor.abort();
    throw err;
  }
  monitor?.attachConsumer(running, kafka);
  const consumer = running;
  onStop = () => {
    console.error("stopping: flushing, committing, leaving the group …");
    consumer.stop().catch(() => {});
  };
  if (stopRequested) onStop();
  try {
    const summary = await running.done;
    watch.close();
    await ingestor.close();
    await monitor?.close();
    console.log(summaryJson(summary));
  } catch (err) {
    watch.close();
    ingestor.abort();
    throw err;
  }
  // Everything is committed and the group left. Exit now: after a broker restart kafkajs can
  // keep a replaced connection open, which would hold the process until the broker's idle
  // timeout (connections.max.idle.ms, 10 min) closes it.
  Deno.exit(0);
});
