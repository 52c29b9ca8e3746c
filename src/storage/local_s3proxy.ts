/**
 * A real S3-compatible server for development and tests without Docker: S3Proxy (Apache 2.0,
 * Java 17) over the local filesystem (`filesystem-nio2`, the default) or in memory
 * (`transient-nio2`, S3_LOCAL_BACKEND for `deno task test` and `s3:up`).
 *
 * Both providers publish an object by hard link, which fails when the name is taken, so
 * `If-None-Match: *` is race-safe: 16 concurrent conditional PUTs give one 200 and fifteen 412s
 * (storage tests). Version 4.1.0, not 4.0.0: 4.0.0 silently truncated a listing when a concurrent
 * PUT's temporary file vanished under it (three writers: most listings missed acknowledged keys;
 * docs/object-storage.md has the measurement). The jar comes from Maven Central once
 * (`mvn dependency:copy`, org.gaul:s3proxy, classifier jar-with-dependencies) into
 * `.cache/s3proxy/<version>/`. The server listens on loopback only, with a fixed development
 * identity and a bucket created at start; its state (config, objects, log, pid) lives in one
 * directory, so `down` stops exactly the process `up` started (its pid, checked to be a java
 * process serving that directory).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { join, resolve } from "node:path";
import { exists } from "../files.ts";
import { isProcessOf, readPidFile, stopPidFileProcess } from "../local_process.ts";
import { S3Storage } from "./s3.ts";

export const DEFAULT_S3PROXY_VERSION = "4.1.0";

/** S3Proxy's storage providers this project runs: on disk (default) or in memory. */
export const S3PROXY_BACKENDS = ["filesystem-nio2", "transient-nio2"] as const;
export type S3ProxyBackend = typeof S3PROXY_BACKENDS[number];

/** The development identity of the local server (not a secret: loopback only). */
export const LOCAL_S3 = {
  accessKeyId: "lakehouse-dev",
  secretAccessKey: "lakehouse-dev-secret",
  region: "us-east-1",
  bucket: "lakehouse",
  port: 9000,
} as const;

export interface LocalS3Options {
  version?: string;
  /** Where the jar is cached, per version (default .cache/s3proxy). */
  cacheDir?: string;
  /** Server state: config, objects, log and pid (default .cache/s3proxy/run). */
  stateDir?: string;
  port?: number;
  /**
   * Where objects live: filesystem-nio2 (default; survives a restart) or transient-nio2 (in
   * memory, gone when the server stops).
   */
  backend?: S3ProxyBackend;
  /** Bucket created at start (default "lakehouse"). */
  bucket?: string;
  log?: (line: string) => void;
}

type Resolved = Required<LocalS3Options>;

function resolveOptions(o: LocalS3Options): Resolved {
  const cacheDir = resolve(o.cacheDir ?? ".cache/s3proxy");
  return {
    version: o.version ?? DEFAULT_S3PROXY_VERSION,
    cacheDir,
    stateDir: resolve(o.stateDir ?? join(cacheDir, "run")),
    port: o.port ?? LOCAL_S3.port,
    backend: o.backend ?? "filesystem-nio2",
    bucket: o.bucket ?? LOCAL_S3.bucket,
    log: o.log ?? ((line) => console.error(line)),
  };
}

/** The local server failed to start or to answer; carries the tail of its log. */
export class S3ProxyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "S3ProxyError";
  }
}

/** Checks a backend name (S3_LOCAL_BACKEND); undefined means the default, filesystem-nio2. */
export function s3ProxyBackend(name: string | undefined): S3ProxyBackend {
  if (name === undefined || name === "") return "filesystem-nio2";
  const known = S3PROXY_BACKENDS.find((b) => b === name);
  if (!known) {
    throw new S3ProxyError(
      `unknown S3Proxy backend "${name}" (S3_LOCAL_BACKEND): say ${S3PROXY_BACKENDS.join(" or ")}`,
    );
  }
  return known;
}

/** The environment that points every task at the local server. */
export function localS3Env(port: number = LOCAL_S3.port): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
    AWS_ACCESS_KEY_ID: LOCAL_S3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3.secretAccessKey,
    AWS_REGION: LOCAL_S3.region,
    AWS_ALLOW_HTTP: "true",
  };
}

/** A client for the local server (bucket creation, answers probe). */
export function localS3Client(port: number = LOCAL_S3.port, retryMs = 0): S3Storage {
  return new S3Storage({
    endpoint: `http://127.0.0.1:${port}`,
    region: LOCAL_S3.region,
    credentials: { accessKeyId: LOCAL_S3.accessKeyId, secretAccessKey: LOCAL_S3.secretAccessKey },
    retryMs,
    timeoutMs: 5000,
  });
}

/** True when an HTTP server answers at 127.0.0.1:port (any status). */
export async function s3Answers(port: number = LOCAL_S3.port): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1500) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/** Fetches the S3Proxy jar once; returns its path. */
export async function ensureS3ProxyJar(opts: LocalS3Options = {}): Promise<string> {
  const o = resolveOptions(opts);
  const dir = join(o.cacheDir, o.version);
  const jar = join(dir, `s3proxy-${o.version}-jar-with-dependencies.jar`);
  if (await exists(jar)) return jar;
  o.log(`fetching S3Proxy ${o.version} from Maven Central into ${dir} (once, ~55 MB) …`);
  await Deno.mkdir(dir, { recursive: true });
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("mvn", {
      args: [
        "-q",
        "-B",
        "dependency:copy",
        `-Dartifact=org.gaul:s3proxy:${o.version}:jar:jar-with-dependencies`,
        `-DoutputDirectory=${dir}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    throw new S3ProxyError(`cannot run mvn (Apache Maven) to fetch S3Proxy: ${err}`);
  }
  if (!out.success || !await exists(jar)) {
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    throw new S3ProxyError(`mvn could not fetch S3Proxy ${o.version}:\n${text.slice(-2000)}`);
  }
  return jar;
}

function readPid(o: Resolved): Promise<number | null> {
  return readPidFile(join(o.stateDir, "s3proxy.pid"));
}

/** True when `pid` is alive and is the S3Proxy serving this state directory. */
function isOurs(pid: number, o: Resolved): Promise<boolean> {
  return isProcessOf(pid, ["s3proxy", o.stateDir]);
}

async function logTail(o: Resolved): Promise<string> {
  const text = await Deno.readTextFile(join(o.stateDir, "s3proxy.log")).catch(() => "");
  return text.split("\n").slice(-30).join("\n") || "(no s3proxy.log)";
}

function logbackXml(file: string): string {
  return `<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>${file}</file>
    <encoder><pattern>[%d] %level %logger{20} %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="FILE"/></root>
  <logger name="org.gaul.s3proxy" level="INFO"/>
</configuration>
`;
}

export interface LocalS3Info {
  endpoint: string;
  bucket: string;
  pid: number | null;
  stateDir: string;
  logFile: string;
  /** False when a server already answered and nothing was started. */
  started: boolean;
}

/**
 * Starts S3Proxy unless something answers at 127.0.0.1:port, then makes sure the bucket
 * exists. Waits until the server answers (never a fixed sleep).
 */
export async function startLocalS3(
  opts: LocalS3Options & { fresh?: boolean; timeoutMs?: number } = {},
): Promise<LocalS3Info> {
  const o = resolveOptions(opts);
  const endpoint = `http://127.0.0.1:${o.port}`;
  const info = (pid: number | null, started: boolean): LocalS3Info => ({
    endpoint,
    bucket: o.bucket,
    pid,
    stateDir: o.stateDir,
    logFile: join(o.stateDir, "s3proxy.log"),
    started,
  });
  if (await s3Answers(o.port)) {
    await localS3Client(o.port, 5000).createBucket(o.bucket);
    return info(await readPid(o), false);
  }
  const jar = await ensureS3ProxyJar(opts);
  const stale = await readPid(o);
  if (stale && await isOurs(stale, o)) {
    throw new S3ProxyError(
      `an S3Proxy (pid ${stale}) for ${o.stateDir} runs but does not answer at ${endpoint}; ` +
        "run `deno task s3:down` first",
    );
  }
  if (opts.fresh) await Deno.remove(o.stateDir, { recursive: true }).catch(() => {});
  const data = join(o.stateDir, "data");
  await Deno.mkdir(data, { recursive: true });
  const conf = join(o.stateDir, "s3proxy.conf");
  await Deno.writeTextFile(
    conf,
    [
      "s3proxy.authorization=aws-v2-or-v4",
      `s3proxy.identity=${LOCAL_S3.accessKeyId}`,
      `s3proxy.credential=${LOCAL_S3.secretAccessKey}`,
      `s3proxy.endpoint=${endpoint}`,
      `jclouds.provider=${o.backend}`,
      ...(o.backend === "filesystem-nio2" ? [`jclouds.filesystem.basedir=${data}`] : []),
      "",
    ].join("\n"),
  );
  const where = o.backend === "filesystem-nio2" ? data : "in memory";
  o.log(`starting S3Proxy ${o.version} (${o.backend}, ${where}) on ${endpoint} …`);
  // Logged by logback to a file: the server outlives the task that started it.
  const logback = join(o.stateDir, "logback.xml");
  await Deno.writeTextFile(logback, logbackXml(join(o.stateDir, "s3proxy.log")));
  const child = new Deno.Command("java", {
    args: [
      "-Xmx256m",
      "-Djava.awt.headless=true",
      `-Dlogback.configurationFile=${logback}`,
      "-jar",
      jar,
      "--properties",
      conf,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  await Deno.writeTextFile(join(o.stateDir, "s3proxy.pid"), `${child.pid}\n`);
  let exited = false;
  child.status.then(() => (exited = true));
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (exited) {
      throw new S3ProxyError(
        `S3Proxy exited during start-up. Last log lines:\n${await logTail(o)}`,
      );
    }
    if (await s3Answers(o.port)) {
      await localS3Client(o.port, 5000).createBucket(o.bucket);
      return info(child.pid, true);
    }
    await sleep(200);
  }
  throw new S3ProxyError(
    `S3Proxy did not answer at ${endpoint} within ${(opts.timeoutMs ?? 60_000) / 1000} s ` +
      `(pid ${child.pid} left running). Last log lines:\n${await logTail(o)}`,
  );
}

/** Stops the S3Proxy started for this state dir (SIGTERM, SIGKILL after grace). */
export async function stopLocalS3(
  opts: LocalS3Options & { graceMs?: number; signal?: "SIGTERM" | "SIGKILL" } = {},
): Promise<number | null> {
  const o = resolveOptions(opts);
  return await stopPidFileProcess(join(o.stateDir, "s3proxy.pid"), ["s3proxy", o.stateDir], {
    graceMs: opts.graceMs ?? 10_000,
    first: opts.signal,
    log: (line) => o.log(`S3Proxy ${line}`),
  });
}
