/**
 * The metrics endpoint of a long-running task: `GET /metrics` (Prometheus text format, from the
 * task's registry) and `GET /healthz` (see health.ts), on its own port so scraping never queues
 * behind the task's work or the dashboard's page. Binds 127.0.0.1 unless told otherwise:
 * metrics name tables, topics and hosts.
 */
import type { Registry } from "prom-client";
import type { HealthReport } from "./health.ts";

export interface MetricsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** Evaluated at each /healthz request. */
  health: () => HealthReport;
}

/** A running metrics endpoint; `close()` stops listening. */
export interface MetricsServer {
  /** The address it listens on (the real port when 0 was asked for). */
  url: string;
  close(): Promise<void>;
}

/** Answers one request (exported for tests that need no socket). */
export async function handleMetricsRequest(
  req: Request,
  opts: Pick<MetricsServerOptions, "registry" | "health">,
): Promise<Response> {
  const path = new URL(req.url).pathname;
  if (req.method !== "GET" && req.method !== "HEAD") {
    return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
  }
  if (path === "/metrics") {
    return new Response(await opts.registry.metrics(), {
      headers: { "content-type": opts.registry.contentType },
    });
  }
  if (path === "/healthz") {
    const report = opts.health();
    return Response.json(report.body, {
      status: report.healthy ? 200 : 503,
      headers: { "cache-control": "no-store" },
    });
  }
  return new Response("not found: try /metrics or /healthz\n", { status: 404 });
}

/** Starts listening; fails at once (not at the first scrape) when the port is taken. */
export function startMetricsServer(opts: MetricsServerOptions): MetricsServer {
  const server = Deno.serve(
    { hostname: opts.host, port: opts.port, onListen: () => {} },
    (req) => handleMetricsRequest(req, opts),
  );
  const addr = server.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `http://${host}:${addr.port}`,
    close: () => server.shutdown(),
  };
}
