/**
 * The kafkajs client, configured from flags/env, including SASL and TLS for real clusters.
 *
 * Security settings are plain data (`KafkaSecurity`) turned into kafkajs config by a pure
 * function, so the configuration each flag combination produces is unit-tested without a
 * secured broker.
 */
import { Kafka, type KafkaConfig, type logCreator, logLevel, type SASLOptions } from "kafkajs";
import { readFileSync } from "node:fs";
import process from "node:process";
import { type OptionSpecs, readEnv, UsageError } from "../config.ts";
import { retrying } from "../retry.ts";

/*
 * kafkajs' request queue arms `setTimeout(fn, throttledUntil - Date.now())` with
 * throttledUntil = -1 when not throttled; Node-compatible runtimes then print a
 * TimeoutNegativeWarning per connection (harmless: the delay is clamped to 1 ms). Drop only
 * that warning so real ones still reach the user.
 */
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const name = typeof warning === "string" ? rest[0] : warning.name;
  if (name === "TimeoutNegativeWarning") return;
  (emitWarning as (w: string | Error, ...r: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

/** Security flags with env twins, shared by every task that talks to Kafka. */
export const KAFKA_SECURITY_OPTIONS = {
  "sasl-mechanism": {
    type: "string",
    env: "KAFKA_SASL_MECHANISM",
    default: "",
    description: "SASL mechanism: plain, scram-sha-256 or scram-sha-512 (empty: no SASL)",
  },
  "sasl-username": {
    type: "string",
    env: "KAFKA_SASL_USERNAME",
    default: "",
    description: "SASL user",
  },
  "sasl-password-env": {
    type: "string",
    env: "KAFKA_SASL_PASSWORD_ENV",
    default: "KAFKA_SASL_PASSWORD",
    description: "Name of the env var holding the SASL password (never a flag: flags leak into ps)",
  },
  tls: { type: "boolean", env: "KAFKA_TLS", description: "Connect with TLS" },
  "tls-ca": {
    type: "string",
    env: "KAFKA_TLS_CA",
    default: "",
    description: "PEM file of CA certificates",
  },
  "tls-cert": {
    type: "string",
    env: "KAFKA_TLS_CERT",
    default: "",
    description: "PEM client certificate (mTLS)",
  },
  "tls-key": {
    type: "string",
    env: "KAFKA_TLS_KEY",
    default: "",
    description: "PEM client key (mTLS)",
  },
  "tls-insecure": {
    type: "boolean",
    env: "KAFKA_TLS_INSECURE",
    description: "Skip server certificate verification (testing only)",
  },
} as const satisfies OptionSpecs;

export interface KafkaSecurity {
  saslMechanism?: string;
  saslUsername?: string;
  saslPassword?: string;
  tls?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsInsecure?: boolean;
}

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  security?: KafkaSecurity;
  /** kafkajs log level; defaults to errors only, as progress is reported by our own lines. */
  logLevel?: logLevel;
  /** Retries of each request before giving up (kafkajs default 5). */
  retries?: number;
}

/** Builds KafkaSecurity from parsed CLI options (password read from the named env var). */
export function securityFromOptions(o: {
  "sasl-mechanism": string;
  "sasl-username": string;
  "sasl-password-env": string;
  tls: boolean;
  "tls-ca": string;
  "tls-cert": string;
  "tls-key": string;
  "tls-insecure": boolean;
}): KafkaSecurity {
  return {
    saslMechanism: o["sasl-mechanism"] || undefined,
    saslUsername: o["sasl-username"] || undefined,
    saslPassword: o["sasl-mechanism"] ? readEnv(o["sasl-password-env"]) : undefined,
    tls: o.tls,
    tlsCa: o["tls-ca"] || undefined,
    tlsCert: o["tls-cert"] || undefined,
    tlsKey: o["tls-key"] || undefined,
    tlsInsecure: o["tls-insecure"],
  };
}

/**
 * Turns security settings into the `ssl`/`sasl` parts of a kafkajs config.
 * `readFile` is injectable so tests need no PEM files on disk.
 */
export function securityConfig(
  s: KafkaSecurity,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
): Pick<KafkaConfig, "ssl" | "sasl"> {
  const out: Pick<KafkaConfig, "ssl" | "sasl"> = {};
  const anyTlsFile = s.tlsCa || s.tlsCert || s.tlsKey;
  if (s.tls || anyTlsFile || s.tlsInsecure) {
    if ((s.tlsCert && !s.tlsKey) || (!s.tlsCert && s.tlsKey)) {
      throw new UsageError("--tls-cert and --tls-key go together (mutual TLS needs both)");
    }
    out.ssl = {
      rejectUnauthorized: !s.tlsInsecure,
      ...(s.tlsCa ? { ca: [readFile(s.tlsCa)] } : {}),
      ...(s.tlsCert ? { cert: readFile(s.tlsCert) } : {}),
      ...(s.tlsKey ? { key: readFile(s.tlsKey) } : {}),
    };
  }
  if (s.saslMechanism) {
    const mechanism = s.saslMechanism.toLowerCase();
    if (!["plain", "scram-sha-256", "scram-sha-512"].includes(mechanism)) {
      throw new UsageError(
        `--sasl-mechanism must be plain, scram-sha-256 or scram-sha-512, got "${s.saslMechanism}"`,
      );
    }
    if (!s.saslUsername) throw new UsageError("SASL needs --sasl-username (KAFKA_SASL_USERNAME)");
    if (s.saslPassword === undefined) {
      throw new UsageError("SASL needs a password in the env var named by --sasl-password-env");
    }
    out.sasl = {
      mechanism,
      username: s.saslUsername,
      password: s.saslPassword,
    } as SASLOptions;
  }
  return out;
}

/**
 * kafkajs logs every retried request as ERROR ("The group coordinator is not available" while a
 * fresh broker elects one, leadership changes, a broker restart). Those are retried and
 * resolved by kafkajs itself; our own progress lines report real trouble. Print the rest as
 * one compact line on stderr.
 */
const TRANSIENT =
  /coordinator is not available|not the correct coordinator|no leader|leader not available|not leader|rebalanc|ECONNREFUSED|Connection timeout|Closed connection|disconnected|ECONNRESET|request timed out|Timeout/i;

export const compactLogCreator: logCreator = () => ({ level, log }) => {
  const text = `${log.message ?? ""} ${typeof log.error === "string" ? log.error : ""}`;
  if (level > logLevel.WARN || (TRANSIENT.test(text) && !readEnv("KAFKAJS_VERBOSE"))) return;
  console.error(`kafka ${level === logLevel.ERROR ? "error" : "warning"}: ${text.trim()}`);
};

/** Creates the kafkajs client. */
export function createKafka(opts: KafkaClientOptions): Kafka {
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    logLevel: opts.logLevel ?? logLevel.WARN,
    logCreator: compactLogCreator,
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: { retries: opts.retries ?? 5, initialRetryTime: 200, maxRetryTime: 5000 },
    ...securityConfig(opts.security ?? {}),
  });
}

/** True when an admin call answers within the timeout; used for readiness, never a sleep. */
export async function brokerAnswers(brokers: string[], timeoutMs = 3000): Promise<boolean> {
  const kafka = new Kafka({
    clientId: "smarttech-probe",
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(timeoutMs, 1000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const probe = (async () => {
      await admin.connect();
      await admin.describeCluster();
      return true;
    })();
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    return await Promise.race([probe.catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Waits until the brokers answer an admin call, retrying with backoff (0.5 s doubling to 5 s)
 * for as long as it takes, and says so on every failed attempt: kafkajs' own retries would keep
 * a consumer silent for most of a minute before failing. A refused login is not a broker that is
 * down: waiting cannot fix a wrong password, so it is thrown at once.
 */
export async function waitForBrokers(
  opts: KafkaClientOptions,
  onRetry: (attempt: number, delayMs: number, error: string) => void,
): Promise<void> {
  const kafka = createKafka({ ...opts, retries: 0, logLevel: logLevel.NOTHING });
  await retrying(async () => {
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.describeCluster();
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }, {
    baseMs: 500,
    maxMs: 5000,
    budgetMs: Infinity,
    retryable: (err) => !isAuthenticationError(err),
    onRetry: (e) => onRetry(e.attempt, e.delayMs, (e.error as Error)?.message ?? String(e.error)),
  });
}

/** True for a broker's refusal of our credentials (SASL handshake or authentication failed). */
export function isAuthenticationError(err: unknown): boolean {
  const e = err as { name?: string; message?: string; type?: string } | null;
  if (!e) return false;
  return /SASL|Authentication/i.test(e.name ?? "") ||
    /SASL_AUTHENTICATION_FAILED|ILLEGAL_SASL_STATE|UNSUPPORTED_SASL_MECHANISM/.test(e.type ?? "") ||
    /SASL .*(authentication failed|handshake)/i.test(e.message ?? "");
}
