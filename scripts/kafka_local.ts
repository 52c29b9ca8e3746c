/**
 * `deno task kafka:up` / `deno task kafka:down`: a real local Kafka broker without Docker.
 */
import { numberOption, type OptionSpecs, parseCli, runMain, UsageError } from "../src/config.ts";
import {
  DEFAULT_KAFKA_VERSION,
  MissingPrerequisiteError,
  startLocalBroker,
  stopLocalBroker,
} from "../src/kafka/local_broker.ts";

export const OPTIONS = {
  version: {
    type: "string",
    env: "KAFKA_VERSION",
    default: DEFAULT_KAFKA_VERSION,
    description: "Kafka version fetched from Maven Central",
  },
  port: {
    type: "string",
    env: "KAFKA_LOCAL_PORT",
    default: "9092",
    description: "Broker port on 127.0.0.1",
  },
  "state-dir": {
    type: "string",
    env: "KAFKA_LOCAL_DIR",
    default: ".cache/kafka/run",
    description: "Broker config, data, log and pid",
  },
  heap: {
    type: "string",
    env: "KAFKA_LOCAL_HEAP",
    default: "512m",
    description: "JVM heap (-Xmx)",
  },
  fresh: { type: "boolean", description: "Wipe the broker's data before starting (up only)" },
} as const satisfies OptionSpecs;

await runMain(async () => {
  const { options, positionals } = parseCli(
    Deno.args,
    OPTIONS,
    "Usage: deno task kafka:up | kafka:down  (scripts/kafka_local.ts <up|down> [options])",
  );
  const action = positionals[0];
  const common = {
    version: options.version,
    port: numberOption("port", options.port, { integer: true, min: 1 }),
    stateDir: options["state-dir"],
    heap: options.heap,
  };
  if (action === "up") {
    try {
      const info = await startLocalBroker({ ...common, fresh: options.fresh });
      if (!info.started) {
        console.log(`a Kafka broker already answers at ${info.brokers}; nothing started.`);
        return;
      }
      console.log(
        [
          `Kafka ${options.version} is up at ${info.brokers} (pid ${info.pid}).`,
          `  log:  ${info.logFile}`,
          `  data: ${info.dataDir}`,
          "  stop: deno task kafka:down",
        ].join("\n"),
      );
    } catch (err) {
      if (err instanceof MissingPrerequisiteError) {
        console.error(err.message);
        return 3;
      }
      throw err;
    }
  } else if (action === "down") {
    const pid = await stopLocalBroker(common);
    console.log(
      pid
        ? `stopped the local Kafka broker (pid ${pid}).`
        : "no local Kafka broker started by kafka:up is running.",
    );
  } else {
    throw new UsageError("say `up` or `down`");
  }
});
