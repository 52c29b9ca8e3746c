/**
 * A real single-node Apache Kafka broker (KRaft) run from its jars, for development and tests on
 * machines without Docker.
 *
 * The jars come from Maven Central through `mvn dependency:copy-dependencies` once, into a
 * git-ignored cache keyed by version. The broker's state (config, data, log, pid) lives in one
 * directory, so `down` stops exactly the process `up` started — by its pid, after checking the
 * pid still belongs to a java process using that directory (pids get reused).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { join, resolve } from "node:path";
import { brokerAnswers } from "./client.ts";
import { exists } from "../files.ts";
import { isProcessOf, readPidFile, stopPidFileProcess } from "../local_process.ts";

export const DEFAULT_KAFKA_VERSION = "3.9.1";

export interface LocalBrokerOptions {
  /** Kafka version from Maven Central (org.apache.kafka:kafka_2.13). */
  version?: string;
  /** Where jars are cached, per version (default .cache/kafka). */
  cacheDir?: string;
  /** Broker state: config, data, log and pid (default .cache/kafka/run). */
  stateDir?: string;
  host?: string;
  port?: number;
  controllerPort?: number;
  /** JVM max heap, e.g. "512m". */
  heap?: string;
  /** Default partitions for auto-created topics. */
  partitions?: number;
  /** Progress lines go here (stderr by default). */
  log?: (line: string) => void;
  /**
   * server.properties entries added or overriding the defaults, e.g. an extra SASL listener
   * for security tests (`listeners`, `listener.security.protocol.map`, JAAS config).
   */
  serverProperties?: Record<string, string>;
}

type Resolved = Required<LocalBrokerOptions>;

function resolveOptions(o: LocalBrokerOptions): Resolved {
  const cacheDir = resolve(o.cacheDir ?? ".cache/kafka");
  return {
    version: o.version ?? DEFAULT_KAFKA_VERSION,
    cacheDir,
    stateDir: resolve(o.stateDir ?? join(cacheDir, "run")),
    host: o.host ?? "127.0.0.1",
    port: o.port ?? 9092,
    controllerPort: o.controllerPort ?? (o.port ?? 9092) + 1,
    heap: o.heap ?? "512m",
    partitions: o.partitions ?? 3,
    log: o.log ?? ((line) => console.error(line)),
    serverProperties: o.serverProperties ?? {},
  };
}

/** A prerequisite (java, mvn) is absent; the message says what to install or use instead. */
export class MissingPrerequisiteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MissingPrerequisiteError";
  }
}

/** The broker process failed to start or to answer; carries the tail of its log. */
export class BrokerStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BrokerStartError";
  }
}

async function commandWorks(cmd: string, args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}

/** Checks java and mvn are on PATH; throws with precise guidance otherwise. */
export async function checkPrerequisites(needMaven: boolean): Promise<void> {
  const missing: string[] = [];
  if (!await commandWorks("java", ["-version"])) {
    missing.push("java (Java 17+, e.g. apt-get install openjdk-17-jre-headless)");
  }
  if (needMaven && !await commandWorks("mvn", ["-v"])) {
    missing.push("mvn (Apache Maven, e.g. apt-get install maven)");
  }
  if (missing.length) {
    throw new MissingPrerequisiteError(
      `cannot run a local Kafka broker: missing ${missing.join(" and ")}.\n` +
        "Install it, or use Docker instead: `docker compose up -d` (see docker-compose.yml).",
    );
  }
}

function pomXml(version: string): string {
  // slf4j 1.7 + reload4j: Kafka 3.x logs through log4j 1.x APIs; slf4j 2.x bindings would be ignored.
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.smarttech</groupId><artifactId>kafka-local</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${version}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>
  </dependencies>
</project>
`;
}

/** Fetches the broker jars once; returns the lib directory. */
export async function ensureJars(opts: LocalBrokerOptions = {}): Promise<string> {
  const o = resolveOptions(opts);
  const base = join(o.cacheDir, o.version);
  const lib = join(base, "lib");
  const marker = join(base, ".complete");
  if (await exists(marker)) return lib;
  await checkPrerequisites(true);
  await Deno.mkdir(base, { recursive: true });
  await Deno.writeTextFile(join(base, "pom.xml"), pomXml(o.version));
  o.log(`fetching Kafka ${o.version} jars from Maven Central into ${lib} (once) …`);
  await Deno.remove(lib, { recursive: true }).catch(() => {});
  const out = await new Deno.Command("mvn", {
    args: [
      "-q",
      "-B",
      "-f",
      join(base, "pom.xml"),
      "dependency:copy-dependencies",
      `-DoutputDirectory=${lib}`,
      "-DincludeScope=runtime",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    throw new BrokerStartError(`mvn could not fetch Kafka ${o.version}:\n${text.slice(-2000)}`);
  }
  await Deno.writeTextFile(marker, new Date().toISOString());
  return lib;
}

function serverProperties(o: Resolved): string {
  const data = join(o.stateDir, "data");
  const lines = [
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@${o.host}:${o.controllerPort}`,
    `listeners=PLAINTEXT://${o.host}:${o.port},CONTROLLER://${o.host}:${o.controllerPort}`,
    `advertised.listeners=PLAINTEXT://${o.host}:${o.port}`,
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=PLAINTEXT",
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    `log.dirs=${data}`,
    // A single node cannot satisfy the defaults (3 replicas, min ISR 2).
    "offsets.topic.replication.factor=1",
    "offsets.topic.num.partitions=1",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "group.initial.rebalance.delay.ms=0",
    `num.partitions=${o.partitions}`,
    "auto.create.topics.enable=true",
    // Room for the 2 MB hostile-input case plus headroom.
    "message.max.bytes=8388608",
    "replica.fetch.max.bytes=8388608",
    "log.retention.hours=168",
    "log.segment.bytes=268435456",
  ];
  const extra = { ...o.serverProperties };
  const merged = lines.map((line) => {
    const key = line.slice(0, line.indexOf("="));
    if (!(key in extra)) return line;
    const value = extra[key];
    delete extra[key];
    return `${key}=${value}`;
  });
  for (const [key, value] of Object.entries(extra)) merged.push(`${key}=${value}`);
  return [...merged, ""].join("\n");
}

function log4jProperties(o: Resolved): string {
  return [
    "log4j.rootLogger=INFO, file",
    "log4j.appender.file=org.apache.log4j.RollingFileAppender",
    `log4j.appender.file.File=${join(o.stateDir, "broker.log")}`,
    "log4j.appender.file.MaxFileSize=20MB",
    "log4j.appender.file.MaxBackupIndex=2",
    "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
    "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
    "log4j.logger.kafka=INFO",
    "log4j.logger.org.apache.kafka=INFO",
    "log4j.logger.state.change.logger=WARN",
    "",
  ].join("\n");
}

async function java(
  lib: string,
  o: Resolved,
  mainClass: string,
  args: string[],
): Promise<Deno.CommandOutput> {
  return await new Deno.Command("java", {
    args: [
      "-Xmx256m",
      `-Dlog4j.configuration=file:${join(o.stateDir, "log4j.properties")}`,
      "-cp",
      `${lib}/*`,
      mainClass,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
}

function readPid(o: Resolved): Promise<number | null> {
  return readPidFile(join(o.stateDir, "broker.pid"));
}

/** True when `pid` is alive and is the java process serving this state directory. */
function isOurBroker(pid: number, o: Resolved): Promise<boolean> {
  return isProcessOf(pid, ["kafka.Kafka", o.stateDir]);
}

async function logTail(o: Resolved, lines = 30): Promise<string> {
  try {
    const text = await Deno.readTextFile(join(o.stateDir, "broker.log"));
    return text.split("\n").slice(-lines).join("\n");
  } catch {
    return "(no broker.log)";
  }
}

export interface BrokerInfo {
  brokers: string;
  pid: number | null;
  stateDir: string;
  logFile: string;
  dataDir: string;
  /** False when a broker already answered and nothing was started. */
  started: boolean;
}

/**
 * Starts the broker unless one already answers at host:port. Waits until an admin call answers
 * (never a fixed sleep); fails with the log tail if the process dies or does not answer in time.
 */
export async function startLocalBroker(
  opts: LocalBrokerOptions & { fresh?: boolean; timeoutMs?: number } = {},
): Promise<BrokerInfo> {
  const o = resolveOptions(opts);
  const brokers = `${o.host}:${o.port}`;
  const info = (pid: number | null, started: boolean): BrokerInfo => ({
    brokers,
    pid,
    stateDir: o.stateDir,
    logFile: join(o.stateDir, "broker.log"),
    dataDir: join(o.stateDir, "data"),
    started,
  });
  if (await brokerAnswers([brokers], 1500)) return info(await readPid(o), false);
  await checkPrerequisites(false);
  const lib = await ensureJars(opts);
  const stalePid = await readPid(o);
  if (stalePid && await isOurBroker(stalePid, o)) {
    throw new BrokerStartError(
      `a broker process (pid ${stalePid}) for ${o.stateDir} is running but does not answer at ${brokers}; ` +
        "run `deno task kafka:down` first",
    );
  }
  if (opts.fresh) await Deno.remove(o.stateDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(o.stateDir, { recursive: true });
  const props = join(o.stateDir, "server.properties");
  await Deno.writeTextFile(props, serverProperties(o));
  await Deno.writeTextFile(join(o.stateDir, "log4j.properties"), log4jProperties(o));

  const idFile = join(o.stateDir, "cluster.id");
  let clusterId = await Deno.readTextFile(idFile).then((s) => s.trim()).catch(() => "");
  if (!clusterId) {
    const out = await java(lib, o, "kafka.tools.StorageTool", ["random-uuid"]);
    clusterId = new TextDecoder().decode(out.stdout).trim();
    if (!out.success || !clusterId) {
      throw new BrokerStartError(
        `StorageTool random-uuid failed: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
    await Deno.writeTextFile(idFile, clusterId);
  }
  const fmt = await java(lib, o, "kafka.tools.StorageTool", [
    "format",
    "-t",
    clusterId,
    "-c",
    props,
    "--ignore-formatted",
  ]);
  if (!fmt.success) {
    throw new BrokerStartError(
      `formatting ${o.stateDir}/data failed:\n${new TextDecoder().decode(fmt.stderr).slice(-2000)}`,
    );
  }

  o.log(`starting Kafka ${o.version} (KRaft, single node) on ${brokers} …`);
  const child = new Deno.Command("java", {
    args: [
      `-Xmx${o.heap}`,
      `-Xms${o.heap}`,
      "-XX:+UseG1GC",
      "-XX:MaxGCPauseMillis=20",
      "-Djava.awt.headless=true",
      `-Dlog4j.configuration=file:${join(o.stateDir, "log4j.properties")}`,
      `-Dkafka.logs.dir=${o.stateDir}`,
      "-cp",
      `${lib}/*`,
      "kafka.Kafka",
      props,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  await Deno.writeTextFile(join(o.stateDir, "broker.pid"), `${child.pid}\n`);

  let exited = false;
  child.status.then(() => (exited = true));
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  while (Date.now() < deadline) {
    if (exited) {
      throw new BrokerStartError(
        `the broker exited during start-up. Last log lines:\n${await logTail(o)}`,
      );
    }
    if (await brokerAnswers([brokers], 1000)) return info(child.pid, true);
    await sleep(250);
  }
  throw new BrokerStartError(
    `the broker did not answer at ${brokers} within ${
      (opts.timeoutMs ?? 90_000) / 1000
    } s (pid ${child.pid} left running). ` +
      `Last log lines:\n${await logTail(o)}`,
  );
}

/**
 * Stops the broker started by `startLocalBroker` for this state dir: SIGTERM (a clean
 * controlled shutdown), then SIGKILL after the grace period. Returns the pid stopped, or null.
 */
export async function stopLocalBroker(
  opts: LocalBrokerOptions & { graceMs?: number; signal?: "SIGTERM" | "SIGKILL" } = {},
): Promise<number | null> {
  const o = resolveOptions(opts);
  return await stopPidFileProcess(join(o.stateDir, "broker.pid"), ["kafka.Kafka", o.stateDir], {
    graceMs: opts.graceMs ?? 30_000,
    first: opts.signal,
    log: (line) => o.log(`broker ${line}`),
  });
}

/** The broker a task runs against, and how to give it back. */
export interface BrokerInUse {
  brokers: string[];
  /** The broker this call started, or null when one already answered. */
  started: BrokerInfo | null;
  /** Stops the broker if this call started it (once); a no-op otherwise. */
  stop(): Promise<void>;
}

/**
 * The broker that answers at `brokers`, else a throw-away local one started on its port in
 * `stateDir` (fresh). Tests, bench and demo all start this way, so none of them ever touches a
 * remote cluster it was not pointed at: a non-local address that does not answer is an error.
 */
export async function useOrStartBroker(
  brokers: string[],
  opts: { stateDir: string; log?: (line: string) => void; graceMs?: number },
): Promise<BrokerInUse> {
  if (await brokerAnswers(brokers, 2000)) {
    return { brokers, started: null, stop: () => Promise.resolve() };
  }
  const [host, portText] = brokers[0].split(":");
  if (host !== "127.0.0.1" && host !== "localhost") {
    throw new BrokerStartError(
      `no Kafka broker answers at ${brokers.join(",")}, and it is not local: start it first`,
    );
  }
  const port = Number(portText ?? 9092);
  const info = await startLocalBroker({
    port,
    stateDir: opts.stateDir,
    fresh: true,
    log: opts.log,
  });
  let stopped = !info.started;
  return {
    brokers,
    started: info.started ? info : null,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopLocalBroker({
        port,
        stateDir: opts.stateDir,
        graceMs: opts.graceMs,
        log: opts.log,
      });
    },
  };
}
