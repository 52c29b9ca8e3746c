/**
 * `deno task test`: the whole suite on a fresh machine with Deno, Java 17 and Maven.
 *
 * Gets DuckDB's delta extension, starts a throw-away local Kafka broker when none answers at
 * KAFKA_BROKERS and a throw-away S3Proxy when no S3 server answers at 127.0.0.1:S3_LOCAL_PORT
 * (and stops them afterwards, also on Ctrl+C), then runs `deno test` with the
 * permissions the suites need. Extra arguments go to `deno test` (e.g. a file or `--filter`).
 */
import { brokerList, readEnv, runMain } from "../src/config.ts";
import { brokerAnswers } from "../src/kafka/client.ts";
import { startLocalBroker, stopLocalBroker } from "../src/kafka/local_broker.ts";
import { ensureDeltaExtension, ensureExtension } from "../src/duckdb/extension.ts";
import { s3Answers, startLocalS3, stopLocalS3 } from "../src/storage/local_s3proxy.ts";

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
  await ensureExtension("httpfs");
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
  // The S3-compatible server the s3:// tests run against (S3_LOCAL_PORT, default 9000).
  const s3Port = Number(readEnv("S3_LOCAL_PORT") ?? 9000);
  let s3StateDir: string | null = null;
  if (!await s3Answers(s3Port)) {
    s3StateDir = ".cache/s3proxy/test";
    const info = await startLocalS3({ port: s3Port, stateDir: s3StateDir, fresh: true });
    console.error(`test S3Proxy up at ${info.endpoint} (pid ${info.pid}, log ${info.logFile})`);
  }
  const stop = async () => {
    if (s3StateDir) {
      const dir = s3StateDir;
      s3StateDir = null;
      await stopLocalS3({ port: s3Port, stateDir: dir });
    }
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
      env: { KAFKA_BROKERS: brokers, S3_LOCAL_PORT: String(s3Port) },
      stdin: "null",
    }).spawn().status;
    return status.code;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await stop();
  }
});
