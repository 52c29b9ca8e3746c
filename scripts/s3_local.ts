/**
 * `deno task s3:up` / `deno task s3:down`: a real local S3-compatible server (S3Proxy) without
 * Docker, with a bucket, for an `s3://` lakehouse on this machine.
 */
import { numberOption, type OptionSpecs, parseCli, runMain, UsageError } from "../src/config.ts";
import {
  DEFAULT_S3PROXY_VERSION,
  LOCAL_S3,
  localS3Env,
  s3ProxyBackend,
  startLocalS3,
  stopLocalS3,
} from "../src/storage/local_s3proxy.ts";

export const OPTIONS = {
  port: {
    type: "string",
    env: "S3_LOCAL_PORT",
    default: String(LOCAL_S3.port),
    description: "Server port on 127.0.0.1",
  },
  "state-dir": {
    type: "string",
    env: "S3_LOCAL_DIR",
    default: ".cache/s3proxy/run",
    description: "Server config, objects, log and pid",
  },
  backend: {
    type: "string",
    env: "S3_LOCAL_BACKEND",
    default: "filesystem-nio2",
    description: "filesystem-nio2 (objects on disk) or transient-nio2 (in memory) (up only)",
  },
  bucket: {
    type: "string",
    env: "S3_LOCAL_BUCKET",
    default: LOCAL_S3.bucket,
    description: "Bucket created at start (up only)",
  },
  fresh: { type: "boolean", description: "Wipe the server's objects before starting (up only)" },
} as const satisfies OptionSpecs;

await runMain(async () => {
  const { options, positionals } = parseCli(
    Deno.args,
    OPTIONS,
    "Usage: deno task s3:up | s3:down  (scripts/s3_local.ts <up|down> [options])",
  );
  const port = numberOption("port", options.port, { integer: true, min: 1 });
  const common = { port, stateDir: options["state-dir"], bucket: options.bucket };
  if (positionals[0] === "up") {
    const backend = s3ProxyBackend(options.backend);
    const info = await startLocalS3({ ...common, backend, fresh: options.fresh });
    const env = Object.entries(localS3Env(port)).map(([k, v]) => `export ${k}=${v}`);
    console.log(
      [
        info.started
          ? `S3Proxy ${DEFAULT_S3PROXY_VERSION} (${backend}) is up at ${info.endpoint} (pid ${info.pid}).`
          : `an S3 server already answers at ${info.endpoint}; nothing started.`,
        `  bucket: ${info.bucket}   log: ${info.logFile}`,
        "  point the tasks at it with:",
        ...env.map((l) => `    ${l}`),
        `    deno task consume --lakehouse s3://${info.bucket}/lakehouse`,
        "  stop: deno task s3:down",
      ].join("\n"),
    );
  } else if (positionals[0] === "down") {
    const pid = await stopLocalS3(common);
    console.log(
      pid ? `stopped the local S3Proxy (pid ${pid}).` : "no S3Proxy started by s3:up is running.",
    );
  } else {
    throw new UsageError("say `up` or `down`");
  }
});
