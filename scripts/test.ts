/**
 * `deno task test`: the whole suite on a fresh machine with Deno, Java 17 and Maven.
 *
 * Gets DuckDB's delta extension, starts a throw-away local Kafka broker when none answers at
 * KAFKA_BROKERS (and stops it afterwards, also on Ctrl+C), then runs `deno test` with the
 * permissions the suites need. Extra arguments go to `deno test` (e.g. a file or `--filter`).
 */
import { brokerList, readEnv, runMain } from "../src/config.ts";
import { brokerAnswers } from "../src/kafka/client.ts";
import { startLocalBroker, stopLocalBroker } from "../src/kafka/local_broker.ts";
import { ensureDeltaExtension } from "../src/query/extension.ts";

/** The suites' permissions: spawned deno/java/python/chromium children, loopback only. */
const TEST_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1",
  "--allow-env",
  "--allow-ffi",
  "--allow-sys",
  "--allow-run",
];

await runMain(async () => {
  const brokers = readEnv("KAFKA_BROKERS") ?? "127.0.0.1:9092";
  await ensureDeltaExtension();
  let stateDir: string | null = null;
  if (!await brokerAnswers(brokerList(brokers), 2000)) {
    const [host, port] = brokerList(brokers)[0].split(":");
    if (host !== "127.0.0.1" && host !== "localhost") {
      throw new Error(`no Kafka broker answers at ${brokers}, and it is not local: start it first`);
    }
    stateDir = ".cache/kafka/test";
    const info = await startLocalBroker({ port: Number(port ?? 9092), stateDir, fresh: true });
    console.error(`test broker up at ${info.brokers} (pid ${info.pid}, log ${info.logFile})`);
  } else {
    console.error(`using the Kafka broker that answers at ${brokers}`);
  }
  const stop = async () => {
    if (stateDir) {
      const dir = stateDir;
      stateDir = null;
      await stopLocalBroker({ stateDir: dir, graceMs: 15_000 });
      console.error("test broker stopped");
    }
  };
  const onSignal = () => {
    stop().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const hasPaths = Deno.args.some((a) => !a.startsWith("-"));
    const args = hasPaths ? Deno.args : [...Deno.args, "src/", "tests/"];
    const status = await new Deno.Command(Deno.execPath(), {
      args: ["test", ...TEST_PERMISSIONS, ...args],
      env: { KAFKA_BROKERS: brokers },
      stdin: "null",
    }).spawn().status;
    return status.code;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await stop();
  }
});
