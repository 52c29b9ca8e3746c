/**
 * The Kafka broker the suites run against, for any way of starting them: `deno task test` (which
 * starts one when none answers and passes KAFKA_BROKERS) as well as a plain `deno test -P` or a
 * single file. KAFKA_BROKERS (default 127.0.0.1:9092) when it answers, else a throw-away local
 * broker started once per test process on that port and stopped when the process exits.
 *
 * @module
 */
import { brokerList, readEnv } from "../config.ts";
import { brokerAnswers } from "./client.ts";
import { startLocalBroker } from "./local_broker.ts";

let ready: Promise<string[]> | undefined;

/** Brokers for tests (see module doc); started at most once per process. */
export function testBrokers(): Promise<string[]> {
  ready ??= (async () => {
    const brokers = readEnv("KAFKA_BROKERS") ?? "127.0.0.1:9092";
    const list = brokerList(brokers);
    if (await brokerAnswers(list, 2000)) return list;
    const [host, port] = list[0].split(":");
    if (host !== "127.0.0.1" && host !== "localhost") {
      throw new Error(`no Kafka broker answers at ${brokers}, and it is not local: start it first`);
    }
    const info = await startLocalBroker({
      port: Number(port ?? 9092),
      stateDir: `.cache/kafka/test-${port ?? 9092}`,
      fresh: true,
    });
    if (info.started && info.pid !== null) {
      console.error(`tests: throw-away Kafka broker up at ${info.brokers} (pid ${info.pid})`);
      const pid = info.pid;
      // Synchronous: nothing async runs once the process is exiting. The broker shuts down
      // cleanly on SIGTERM by itself.
      globalThis.addEventListener("unload", () => {
        try {
          Deno.kill(pid, "SIGTERM");
        } catch { /* already gone */ }
      });
    }
    return list;
  })();
  return ready;
}
