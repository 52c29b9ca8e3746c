/**
 * Security end to end: `consume` authenticates with SASL/PLAIN against a real broker listener
 * (our own broker, never the shared one) and fails clearly with a wrong password; no task in
 * deno.json runs with all permissions; the dashboard binds to loopback unless told otherwise.
 * The configuration each security flag produces is unit-tested in src/kafka/client_test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readEnv } from "../src/config.ts";
import { createKafka } from "../src/kafka/client.ts";
import { startLocalBroker, stopLocalBroker } from "../src/kafka/local_broker.ts";
import { exactness, expectedOf } from "../src/chaos/verify.ts";
import { freePorts } from "../src/chaos/processes.ts";
import { makeMix, produceMix, tableCounts } from "../src/chaos/mix.ts";
import { ROOT, runTask, spawnTask } from "./helpers/tasks.ts";

const SASL_PORT = Number(readEnv("SECURITY_TEST_PORT") ?? freePorts(3));

Deno.test("security: no task in deno.json runs with -A / --allow-all", () => {
  const tasks: Record<string, string> = JSON.parse(
    Deno.readTextFileSync(join(ROOT, "deno.json")),
  ).tasks;
  assert.ok(Object.keys(tasks).length > 5);
  for (const [name, line] of Object.entries(tasks)) {
    const words = line.split(/\s+/);
    for (const bad of ["-A", "--allow-all"]) {
      assert.ok(!words.includes(bad), `task ${name} uses ${bad}: ${line}`);
    }
    // Every permission is spelled out; no combined short flags that hide -A (e.g. "-qA").
    assert.ok(!words.some((w) => /^-[a-zA-Z]*A[a-zA-Z]*$/.test(w)), `task ${name}: ${line}`);
  }
});

/** Local addresses listening on TCP `port`, from /proc/net/tcp{,6}; null off Linux. */
function listeningAddresses(port: number): string[] | null {
  const out: string[] = [];
  try {
    for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      for (const line of Deno.readTextFileSync(file).split("\n").slice(1)) {
        const [, local, , state] = line.trim().split(/\s+/);
        if (!local || state !== "0A") continue; // 0A: LISTEN
        const [hex, p] = local.split(":");
        if (parseInt(p, 16) !== port) continue;
        out.push(
          hex.length === 8
            ? [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join(".")
            : `ipv6:${hex}`,
        );
      }
    }
  } catch {
    return null;
  }
  return out;
}

Deno.test("security: the dashboard binds to 127.0.0.1 by default, not to other interfaces", async () => {
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-dash-sec-" });
  const child = spawnTask("dashboard", ["--port", "0", "--lakehouse", lakehouse]);
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const deadline = Date.now() + 30_000;
    while (!out.includes("\n") && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    reader.releaseLock();
    const url = new URL(out.trim().split("\n")[0]);
    assert.equal(url.hostname, "127.0.0.1", `default URL ${url}`);
    const port = Number(url.port);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    // The kernel's table of listening sockets: the port is bound to 127.0.0.1 only (read
    // from /proc, so this needs no network permission for the machine's other addresses).
    const bound = listeningAddresses(port);
    if (bound) assert.deepEqual(bound, ["127.0.0.1"], `listening on ${bound.join(", ")}`);
    // And, where the permissions allow it, a non-loopback address refuses the connection.
    for (const i of Deno.networkInterfaces()) {
      if (i.family !== "IPv4" || i.address.startsWith("127.")) continue;
      const granted = await Deno.permissions.query({ name: "net", host: `${i.address}:${port}` });
      if (granted.state !== "granted") continue;
      await assert.rejects(
        () => Deno.connect({ hostname: i.address, port }),
        Deno.errors.ConnectionRefused,
        `reachable on ${i.address}:${port}`,
      );
    }
  } finally {
    child.kill("SIGTERM");
    await child.stderr.cancel().catch(() => {});
    await child.stdout.cancel().catch(() => {});
    await child.status;
    await Deno.remove(lakehouse, { recursive: true });
  }
});

Deno.test("security: consume over a real SASL/PLAIN listener; a wrong password fails clearly", async () => {
  const stateDir = join(ROOT, ".cache", "kafka", `sasl-${crypto.randomUUID()}`);
  const plain = `127.0.0.1:${SASL_PORT}`;
  const sasl = `127.0.0.1:${SASL_PORT + 2}`;
  const broker = {
    port: SASL_PORT,
    controllerPort: SASL_PORT + 1,
    stateDir,
    heap: "384m",
    log: () => {},
    // A second, SASL_PLAINTEXT listener beside the PLAINTEXT one (used by the broker itself
    // and by the readiness probe). JAAS: user_<name>="<password>" defines the users.
    serverProperties: {
      listeners: `PLAINTEXT://${plain},SASL_PLAINTEXT://${sasl},CONTROLLER://127.0.0.1:${
        SASL_PORT + 1
      }`,
      "advertised.listeners": `PLAINTEXT://${plain},SASL_PLAINTEXT://${sasl}`,
      "listener.security.protocol.map":
        "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
      "sasl.enabled.mechanisms": "PLAIN",
      "listener.name.sasl_plaintext.plain.sasl.jaas.config":
        'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";',
    },
  };
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-sasl-" });
  try {
    const info = await startLocalBroker({ ...broker, fresh: true });
    assert.ok(info.started, `port ${SASL_PORT} is taken by another broker`);
    const topic = `sasl-${crypto.randomUUID().slice(0, 8)}`;
    const mix = makeMix(3000);
    await produceMix([plain], topic, mix);

    // The admin client through the SASL listener: right password works, wrong one is refused.
    const admin = createKafka({
      brokers: [sasl],
      clientId: "sasl-test",
      security: { saslMechanism: "plain", saslUsername: "alice", saslPassword: "alice-secret" },
    }).admin();
    await admin.connect();
    assert.ok((await admin.listTopics()).includes(topic));
    await admin.disconnect();

    const args = [
      "--brokers",
      sasl,
      "--topic",
      topic,
      "--lakehouse",
      lakehouse,
      "--until-caught-up",
      "--progress-interval",
      "0",
      "--sasl-mechanism",
      "plain",
      "--sasl-username",
      "alice",
    ];
    const wrong = await runTask("consume", [...args, "--group", `g1-${topic}`], {
      KAFKA_SASL_PASSWORD: "wrong",
    });
    assert.notEqual(wrong.code, 0, "a wrong password must fail");
    if (readEnv("SECURITY_VERBOSE")) console.error(wrong.stderr);
    assert.match(wrong.stderr, /SASL|authenticat/i, wrong.stderr);
    assert.ok(!wrong.stderr.includes("wrong"), "the password is not echoed");

    const ok = await runTask("consume", [...args, "--group", `g2-${topic}`], {
      KAFKA_SASL_PASSWORD: "alice-secret",
    });
    assert.equal(ok.code, 0, ok.stderr);
    const ex = exactness(await tableCounts(lakehouse), expectedOf(mix));
    assert.deepEqual(ex.problems, []);
  } finally {
    await stopLocalBroker({ ...broker, signal: "SIGKILL" }).catch(() => {});
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
    await Deno.remove(lakehouse, { recursive: true }).catch(() => {});
  }
});

Deno.test("security: bad security flags stop consume with a usage error (exit 2) before connecting", async () => {
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-sec-usage-" });
  try {
    for (
      const [args, message] of [
        [["--sasl-mechanism", "gssapi", "--sasl-username", "u"], /--sasl-mechanism must be/],
        [["--sasl-mechanism", "plain"], /--sasl-username/],
        [["--tls", "--tls-cert", "/nonexistent/c.pem"], /--tls-cert and --tls-key go together/],
      ] as const
    ) {
      // Brokers that nothing listens on: a usage error must come before any connection.
      const r = await runTask("consume", [
        "--brokers",
        "127.0.0.1:1",
        "--lakehouse",
        lakehouse,
        ...args,
      ], { KAFKA_SASL_PASSWORD: "pw" });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  } finally {
    await Deno.remove(lakehouse, { recursive: true });
  }
});
