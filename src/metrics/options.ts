/**
 * `--metrics-port` and `--metrics-host`, shared by the long-running tasks, each with its own
 * env twins (`<PREFIX>_METRICS_PORT`, `<PREFIX>_METRICS_HOST`).
 */
import { numberOption, type OptionSpecs, UsageError } from "../config.ts";

/** The two metrics flags with env twins under `envPrefix` (e.g. "CONSUME"). */
export function metricsOptionSpecs<P extends string>(envPrefix: P) {
  return {
    "metrics-port": {
      type: "string",
      env: `${envPrefix}_METRICS_PORT`,
      default: "",
      description: "Serve GET /metrics (Prometheus) and GET /healthz on this port (default: off)",
    },
    "metrics-host": {
      type: "string",
      env: `${envPrefix}_METRICS_HOST`,
      default: "127.0.0.1",
      description: "Address the metrics port binds (0.0.0.0 to let another host scrape it)",
    },
  } as const satisfies OptionSpecs;
}

/** Where to serve metrics, or null when --metrics-port is not given. */
export function metricsAddress(
  o: { "metrics-port": string; "metrics-host": string },
): { host: string; port: number } | null {
  if (o["metrics-port"].trim() === "") return null;
  const port = numberOption("metrics-port", o["metrics-port"], { integer: true, min: 0 });
  if (port > 65535) throw new UsageError(`--metrics-port must be at most 65535, got ${port}`);
  const host = o["metrics-host"].trim();
  if (host === "") throw new UsageError("--metrics-host must not be empty");
  if (Deno.permissions.querySync({ name: "net", host: `${host}:${port}` }).state !== "granted") {
    throw new UsageError(`--metrics-host ${host} needs --allow-net=${host} for this task`);
  }
  return { host, port };
}
