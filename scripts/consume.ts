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
} as const satisfies OptionSpecs;

await runMain(async () => {
  const { options: o } = parseCli(Deno.args, OPTIONS, "Usage: deno task consume [options]");
  const client = {
    brokers: brokerList(o.brokers),
    clientId: "smarttech-consume",
    security: securityFromOptions(o),
  };
  await waitForBrokers(client, (attempt, delayMs, error) => {
    console.error(
      `broker ${o.brokers} unreachable (${error}); retrying in ${delayMs / 1000} s ` +
        `(attempt ${attempt}, backoff up to 5 s; Ctrl+C stops)`,
    );
  });
  const ingestor = await Ingestor.open(ingestorOptions(o, o.lakehouse, `consume-${o.group}`));
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
    ingestor.abort();
    throw err;
  }
  const onSignal = () => {
    console.error("stopping: flushing, committing, leaving the group …");
    running.stop().catch(() => {});
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const summary = await running.done;
    await ingestor.close();
    console.log(JSON.stringify(summary));
  } catch (err) {
    ingestor.abort();
    throw err;
  }
  // Everything is committed and the group left. Exit now: after a broker restart kafkajs can
  // keep a replaced connection open, which would hold the process until the broker's idle
  // timeout (connections.max.idle.ms, 10 min) closes it.
  Deno.exit(0);
});
