/**
 * `dashboard --metrics-port`: the process metrics (memory above all: the dashboard keeps a
 * DuckDB open) and its own figures — viewers connected, refreshes, queries and time spent
 * refreshing — read from the running dashboard at scrape time. /healthz answers 200 while the
 * process serves; the dashboard has no state that can go bad without the process ending.
 */
import { evaluate } from "../metrics/health.ts";
import { createRegistry, scrapedCounter, scrapedGauge } from "../metrics/registry.ts";
import { type MetricsServer, startMetricsServer } from "../metrics/server.ts";
import type { DashboardHandle } from "./server.ts";

type Stats = ReturnType<DashboardHandle["stats"]>;

/** Serves /metrics and /healthz for `dash` at `address`. */
export function serveDashboardMetrics(
  address: { host: string; port: number },
  dash: Pick<DashboardHandle, "clients" | "stats">,
): MetricsServer {
  const registry = createRegistry();
  scrapedGauge(registry, {
    name: "smarttech_dashboard_clients",
    help: "Viewers connected (server-sent event streams)",
  }, (g) => g.set(dash.clients()));
  const stat = (name: string, help: string, read: (s: Stats) => number) =>
    scrapedCounter(registry, { name, help }, () => read(dash.stats()));
  stat("smarttech_dashboard_refreshes_total", "Model refreshes run", (s) => s.refreshes);
  stat("smarttech_dashboard_queries_total", "DuckDB queries the refreshes ran", (s) => s.queries);
  stat(
    "smarttech_dashboard_refresh_seconds_total",
    "Seconds spent refreshing the model",
    (s) => s.refreshMs / 1000,
  );
  return startMetricsServer({
    ...address,
    registry,
    health: () => evaluate([], { clients: dash.clients() }),
  });
}
