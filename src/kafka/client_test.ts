/**
 * The Kafka security settings: which kafkajs `ssl`/`sasl` config each flag and env
 * combination produces, and which combinations are refused with a UsageError that says what
 * to fix. Pure tests (PEM files are read through an injected reader), so no secured cluster is
 * needed; tests/security_test.ts authenticates against a real SASL/PLAIN listener.
 */
import assert from "node:assert/strict";
import { parseCli, UsageError } from "../config.ts";
import {
  isAuthenticationError,
  KAFKA_SECURITY_OPTIONS,
  securityConfig,
  securityFromOptions,
} from "./client.ts";

/** A fake file reader: returns a marker naming the path, and records what was read. */
function fakeFiles() {
  const read: string[] = [];
  return {
    read,
    readFile: (path: string) => {
      read.push(path);
      return `PEM(${path})`;
    },
  };
}

/**
 * Parses security flags with the env twins set as given, restoring the environment after:
 * the same path a task takes from its command line to the kafkajs config.
 */
function fromCli(args: string[], env: Record<string, string> = {}) {
  const saved = new Map<string, string | undefined>();
  const names = [
    ...Object.values(KAFKA_SECURITY_OPTIONS).map((o) => o.env),
    "KAFKA_SASL_PASSWORD",
    ...Object.keys(env),
  ];
  for (const name of names) saved.set(name, Deno.env.get(name));
  try {
    for (const name of names) Deno.env.delete(name);
    for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
    const { options } = parseCli(args, KAFKA_SECURITY_OPTIONS, "usage");
    return securityFromOptions(options);
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
}

Deno.test("security: no flags → plain connection (neither ssl nor sasl)", () => {
  assert.deepEqual(securityConfig({}), {});
  assert.deepEqual(securityConfig(fromCli([])), {});
});

Deno.test("security: --tls → TLS verifying the server with the system CAs", () => {
  assert.deepEqual(securityConfig({ tls: true }), { ssl: { rejectUnauthorized: true } });
  assert.deepEqual(securityConfig(fromCli(["--tls"])), { ssl: { rejectUnauthorized: true } });
});

Deno.test("security: --tls-ca reads the CA bundle and implies TLS", () => {
  const f = fakeFiles();
  assert.deepEqual(securityConfig({ tlsCa: "/etc/ca.pem" }, f.readFile), {
    ssl: { rejectUnauthorized: true, ca: ["PEM(/etc/ca.pem)"] },
  });
  assert.deepEqual(f.read, ["/etc/ca.pem"]);
});

Deno.test("security: --tls-cert with --tls-key → mutual TLS", () => {
  const f = fakeFiles();
  const cfg = securityConfig(
    fromCli(["--tls", "--tls-cert", "c.pem", "--tls-key", "k.pem"]),
    f.readFile,
  );
  assert.deepEqual(cfg, {
    ssl: { rejectUnauthorized: true, cert: "PEM(c.pem)", key: "PEM(k.pem)" },
  });
});

Deno.test("security: --tls-cert without --tls-key (and the reverse) is a UsageError", () => {
  const f = fakeFiles();
  for (const s of [{ tls: true, tlsCert: "c.pem" }, { tls: true, tlsKey: "k.pem" }]) {
    assert.throws(
      () => securityConfig(s, f.readFile),
      (e: unknown) =>
        e instanceof UsageError && /--tls-cert and --tls-key go together/.test(e.message),
    );
  }
  assert.deepEqual(f.read, [], "nothing read before refusing");
});

Deno.test("security: --tls-insecure turns verification off (and implies TLS)", () => {
  assert.deepEqual(securityConfig({ tlsInsecure: true }), { ssl: { rejectUnauthorized: false } });
  assert.deepEqual(securityConfig(fromCli(["--tls", "--tls-insecure"])), {
    ssl: { rejectUnauthorized: false },
  });
});

Deno.test("security: TLS flags from env twins (KAFKA_TLS, KAFKA_TLS_CA, …)", () => {
  const f = fakeFiles();
  const s = fromCli([], { KAFKA_TLS: "true", KAFKA_TLS_CA: "/ca.pem", KAFKA_TLS_INSECURE: "0" });
  assert.deepEqual(securityConfig(s, f.readFile), {
    ssl: { rejectUnauthorized: true, ca: ["PEM(/ca.pem)"] },
  });
});

for (
  const [flag, mechanism] of [
    ["plain", "plain"],
    ["scram-sha-256", "scram-sha-256"],
    ["scram-sha-512", "scram-sha-512"],
    ["SCRAM-SHA-512", "scram-sha-512"],
    ["PLAIN", "plain"],
  ]
) {
  Deno.test(`security: --sasl-mechanism ${flag} → kafkajs sasl {mechanism: ${mechanism}}`, () => {
    const s = fromCli(["--sasl-mechanism", flag, "--sasl-username", "alice"], {
      KAFKA_SASL_PASSWORD: "s3cret",
    });
    assert.deepEqual(securityConfig(s), {
      sasl: { mechanism, username: "alice", password: "s3cret" },
    });
  });
}

Deno.test("security: SASL settings entirely from env (KAFKA_SASL_MECHANISM, …)", () => {
  const s = fromCli([], {
    KAFKA_SASL_MECHANISM: "scram-sha-256",
    KAFKA_SASL_USERNAME: "bob",
    KAFKA_SASL_PASSWORD: "pw",
  });
  assert.deepEqual(securityConfig(s), {
    sasl: { mechanism: "scram-sha-256", username: "bob", password: "pw" },
  });
});

Deno.test("security: the password comes from the env var --sasl-password-env names", () => {
  const s = fromCli(
    ["--sasl-mechanism", "plain", "--sasl-username", "alice", "--sasl-password-env", "MY_PW"],
    { MY_PW: "from-my-var", KAFKA_SASL_PASSWORD: "not-this-one" },
  );
  assert.equal(s.saslPassword, "from-my-var");
});

Deno.test("security: there is no password flag (flags show up in ps)", () => {
  const names = Object.keys(KAFKA_SECURITY_OPTIONS);
  assert.ok(!names.some((n) => /password$/.test(n)), names.join(", "));
  assert.throws(() => fromCli(["--sasl-password", "x"]), UsageError);
});

Deno.test("security: without a mechanism no password is read at all", () => {
  const s = fromCli(["--sasl-username", "alice"], { KAFKA_SASL_PASSWORD: "pw" });
  assert.equal(s.saslPassword, undefined);
  assert.deepEqual(securityConfig(s), {});
});

Deno.test("security: SASL + TLS together (SASL_SSL, e.g. Confluent Cloud, MSK)", () => {
  const s = fromCli(["--tls", "--sasl-mechanism", "plain", "--sasl-username", "key"], {
    KAFKA_SASL_PASSWORD: "secret",
  });
  assert.deepEqual(securityConfig(s), {
    ssl: { rejectUnauthorized: true },
    sasl: { mechanism: "plain", username: "key", password: "secret" },
  });
});

Deno.test("security: an unsupported mechanism is a UsageError listing the supported ones", () => {
  for (const m of ["gssapi", "oauthbearer", "aws", "scram-sha-1", "plain "]) {
    assert.throws(
      () => securityConfig({ saslMechanism: m, saslUsername: "u", saslPassword: "p" }),
      (e: unknown) =>
        e instanceof UsageError && e.message.includes("plain, scram-sha-256 or scram-sha-512") &&
        e.message.includes(m),
    );
  }
});

Deno.test("security: SASL without a username is a UsageError naming the flag and env var", () => {
  assert.throws(
    () => securityConfig(fromCli(["--sasl-mechanism", "plain"], { KAFKA_SASL_PASSWORD: "p" })),
    (e: unknown) =>
      e instanceof UsageError && /--sasl-username/.test(e.message) &&
      /KAFKA_SASL_USERNAME/.test(e.message),
  );
});

Deno.test("security: SASL without a password is a UsageError naming --sasl-password-env", () => {
  assert.throws(
    () => securityConfig(fromCli(["--sasl-mechanism", "scram-sha-512", "--sasl-username", "u"])),
    (e: unknown) => e instanceof UsageError && /--sasl-password-env/.test(e.message),
  );
});

Deno.test("isAuthenticationError: a refused login is fatal, a broker that is down is not", () => {
  const sasl = Object.assign(new Error("SASL PLAIN authentication failed: Invalid credentials"), {
    name: "KafkaJSSASLAuthenticationError",
  });
  assert.equal(isAuthenticationError(sasl), true);
  assert.equal(
    isAuthenticationError(Object.assign(new Error("x"), { type: "SASL_AUTHENTICATION_FAILED" })),
    true,
  );
  const down = Object.assign(new Error("Connection error: connect ECONNREFUSED 127.0.0.1:9"), {
    name: "KafkaJSConnectionError",
  });
  assert.equal(isAuthenticationError(down), false);
  assert.equal(isAuthenticationError(null), false);
});
