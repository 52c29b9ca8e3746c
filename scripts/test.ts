/**
 * `deno task test`: the whole suite on a fresh machine with Deno, Java 17 and Maven.
 *
 * Gets DuckDB's delta extension, starts a throw-away local Kafka broker when none answers at
 * KAFKA_BROKERS and a throw-away S3Proxy when no S3 server answers at 127.0.0.1:S3_LOCAL_PORT
 * (S3_LOCAL_BACKEND: filesystem-nio2, the default, or transient-nio2 in memory; the choice and
 * its measurements are in docs/object-storage.md) and stops them afterwards, also on Ctrl+C,
 * then runs `deno test` with the
 * permissions the suites need. Extra arguments go to `deno test` (e.g. a file or `--filter`).
 * delta-rs (python `deltalake`) for the interoperability tests goes into a venv under .cache/.
 * What cannot be fetched (a browser) skips its test loudly — failing instead under CI=true — and
 * the final summary names every skipped test and why.
 */
import { brokerList, readEnv, runMain } from "../src/config.ts";
import { useOrStartBroker } from "../src/kafka/local_broker.ts";
import { ensureDeltaExtension, ensureExtension } from "../src/duckdb/extension.ts";
import { deltalakePython } from "../src/python_venv.ts";
import { s3ProxyBackend, startLocalS3, stopLocalS3 } from "../src/storage/local_s3proxy.ts";

/** Prints the skip summary the suites wrote (tests/helpers/skip.ts) and removes its file. */
async function reportSkips(file: string): Promise<void> {
  const lines = (await Deno.readTextFile(file).catch(() => "")).split("\n").filter(Boolean);
  await Deno.remove(file).catch(() => {});
  if (lines.length === 0) return;
  console.error(`\n${lines.length} test(s) or part(s) SKIPPED:`);
  for (const l of [...new Set(lines)]) console.error(`  - ${l}`);
}

await runMain(async () => {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(
      "Usage: deno task test [--sequential] [deno test arguments, e.g. a file or --filter NAME]\n\n" +
        "Fetches what the suites need into .cache/, starts a throw-away Kafka broker and S3 server\n" +
        "when none answers, runs deno test over src/ and tests/, and lists skipped tests.",
    );
    return 0;
  }
  const brokers = readEnv("KAFKA_BROKERS") ?? "127.0.0.1:9092";
  // Checked before anything starts, so a mistyped name leaves nothing running.
  const backend = s3ProxyBackend(readEnv("S3_LOCAL_BACKEND"));
  await ensureDeltaExtension();
  const deltalake = await deltalakePython((l) => console.error(`delta-rs: ${l}`));
  if ("reason" in deltalake) console.error(`delta-rs unavailable: ${deltalake.reason}`);
  const skipLog = `.cache/test-skips-${Deno.pid}.log`;
  await Deno.remove(skipLog).catch(() => {});
  await ensureExtension("httpfs");
  const broker = await useOrStartBroker(brokerList(brokers), { stateDir: ".cache/kafka/test" });
  if (broker.started) {
    const info = broker.started;
    console.error(`test broker up at ${info.brokers} (pid ${info.pid}, log ${info.logFile})`);
  } else {
    console.error(`using the Kafka broker that answers at ${brokers}`);
  }
  // The S3-compatible server the s3:// tests run against (S3_LOCAL_PORT, default 9000).
  const s3Port = Number(readEnv("S3_LOCAL_PORT") ?? 9000);
  let s3StateDir: string | null = null;
  const s3 = await startLocalS3({
    port: s3Port,
    stateDir: ".cache/s3proxy/test",
    fresh: true,
    backend,
  });
  if (s3.started) {
    s3StateDir = s3.stateDir;
    console.error(
      `test S3Proxy (${backend}) up at ${s3.endpoint} (pid ${s3.pid}, log ${s3.logFile})`,
    );
  } else {
    console.error(`using the S3 server that answers at ${s3.endpoint} (bucket ${s3.bucket} made)`);
  }
  const stop = async () => {
    if (s3StateDir) {
      const dir = s3StateDir;
      s3StateDir = null;
      await stopLocalS3({ port: s3Port, stateDir: dir });
    }
    if (broker.started) {
      await broker.stop();
      console.error("test broker stopped");
    }
  };
  const onSignal = () => {
    stop().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    // Test files run two at a time (DENO_JOBS, default 2): most of a file's time is spent
    // waiting on the broker, the S3 server and the tasks it spawns, so two files share this
    // 2-core machine well and the suite takes about half as long. `--sequential` runs one at a
    // time (a file to debug alone, a machine with one core).
    const sequential = Deno.args.includes("--sequential");
    const rest = Deno.args.filter((a) => a !== "--sequential");
    const hasPaths = rest.some((a) => !a.startsWith("-"));
    const args = [
      ...(sequential || rest.includes("--parallel") ? [] : ["--parallel"]),
      ...(hasPaths ? rest : [...rest, "src/", "tests/"]),
    ];
    const status = await new Deno.Command(Deno.execPath(), {
      // The suites' permissions are the "test" set of deno.json, as a plain `deno test -P` uses.
      args: ["test", "-P", ...args],
      env: {
        DENO_JOBS: readEnv("DENO_JOBS") ?? "2",
        KAFKA_BROKERS: brokers,
        S3_LOCAL_PORT: String(s3Port),
        TEST_SKIP_LOG: skipLog,
        ...("python" in deltalake ? { DELTALAKE_PYTHON: deltalake.python } : {}),
      },
      stdin: "null",
    }).spawn().status;
    await reportSkips(skipLog);
    return status.code;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await stop();
  }
});
