/**
 * The Kafka broker the suites run against, for any way of starting them: `deno task test` (which
 * starts one when none answers and passes KAFKA_BROKERS) as well as a plain `deno test -P` or a
 * single file. KAFKA_BROKERS (default 127.0.0.1:9092) when it answers, else a throw-away local
 * broker started once per test process on that port and stopped when the process exits.
 *
 * @module
 */
import { brokerList, readEnv } from "../config.ts";
import { useOrStartBroker } from "./local_broker.ts";

let ready: Promise<string[]> | undefined;

/** Brokers for tests (see module doc); started at most once per process. */
export function testBrokers(): Promise<string[]> {
  ready ??= (async () => {
    const brokers = readEnv("KAFKA_BROKERS") ?? "127.0.0.1:9092";
    const list = brokerList(brokers);
    const port = list[0].split(":")[1] ?? "9092";
    const { started } = await useOrStartBroker(list, { stateDir: `.cache/kafka/test-${port}` });
    if (started?.pid) {
      console.error(`tests: throw-away Kafka broker up at ${started.brokers} (pid ${started.pid})`);
      const pid = started.pid;
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
