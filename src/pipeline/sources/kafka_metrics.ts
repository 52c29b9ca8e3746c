/**
 * `consume --metrics-port`: the ingestion metrics (../ingest_metrics.ts), the lag per partition
 * and the consumer's health, served on /metrics and /healthz from the moment the process starts
 * — before the broker answers — so an orchestrator sees "broker unreachable" rather than a
 * refused connection.
 *
 * Healthy means, all at once: the broker answered within one session timeout (a fetch, a
 * heartbeat or a join; kafkajs fetches every 100 ms at most when idle), the consumer is a member
 * of its group (joined, with no crash, rebalance or stop since), the last flush succeeded, and
 * no flush is stuck (see IngestMetrics).
 *
 * Lag (`smarttech_consume_lag{topic,partition}`) is computed at scrape time as the dashboard
 * does: end offset minus the resume position the tables give — never Kafka's committed offset,
 * which trails them. End offsets are fetched at most once a second on a separate admin
 * connection; while the broker is away the series are dropped, not frozen.
 */
import type { Kafka } from "kafkajs";
import { createRegistry, type Registry, scrapedGauge } from "../../metrics/registry.ts";
import {
  evaluate,
  type HealthCheck,
  type HealthReport,
  secondsSince,
} from "../../metrics/health.ts";
import { type MetricsServer, startMetricsServer } from "../../metrics/server.ts";
import { cachedLagSource, type LagSource } from "../../kafka/lag.ts";
import { IngestMetrics } from "../ingest_metrics.ts";
import type { Ingestor } from "../ingestor.ts";
import { partitionAppId } from "../positions.ts";
import type { RunningConsumer } from "./kafka.ts";

export interface ConsumeMonitorOptions {
  host: string;
  port: number;
  brokers: string;
  topic: string;
  group: string;
  appName: string;
  maxLatencyMs: number;
}

export class ConsumeMonitor {
  readonly registry: Registry;
  readonly ingest: IngestMetrics;
  readonly server: MetricsServer;
  readonly #opts: ConsumeMonitorOptions;
  #brokerError: { error: string; since: number } | null = null;
  #consumer: RunningConsumer | null = null;
  #lag: LagSource | null = null;
  #ingestor: Ingestor | null = null;

  constructor(opts: ConsumeMonitorOptions) {
    this.#opts = opts;
    this.registry = createRegistry();
    this.ingest = new IngestMetrics(this.registry, {
      recordsMetric: "smarttech_consume_records_total",
      maxLatencyMs: opts.maxLatencyMs,
    });
    this.#lagGauge();
    this.server = startMetricsServer({
      host: opts.host,
      port: opts.port,
      registry: this.registry,
      health: () => this.health(),
    });
  }

  /** The broker did not answer at start (waitForBrokers' callback). */
  brokerUnreachable(error: string): void {
    this.#brokerError = { error, since: this.#brokerError?.since ?? performance.now() };
  }

  /** The tables are open: ingestion metrics and checks start. */
  attachIngestor(ingestor: Ingestor): void {
    this.#brokerError = null;
    this.#ingestor = ingestor;
    this.ingest.attach(ingestor);
  }

  /** The group consumer runs: membership, broker contact and lag. */
  attachConsumer(consumer: RunningConsumer, kafka: Kafka): void {
    this.#consumer = consumer;
    this.#lag = cachedLagSource(kafka.admin(), this.#opts.topic, this.#opts.appName, {
      minIntervalMs: 1000,
      backoffMs: 5000,
    });
  }

  health(): HealthReport {
    const c = this.#consumer?.status();
    const details: Record<string, unknown> = {
      topic: this.#opts.topic,
      group: this.#opts.group,
      phase: c ? "consuming" : this.#ingestor ? "joining" : "starting",
    };
    const t = this.#ingestor?.totals;
    if (t) {
      details.records = t.records;
      details.lastCommitAgeSeconds = t.lastCommitAt
        ? Math.round((Date.now() - t.lastCommitAt) / 100) / 10
        : null;
    }
    return evaluate([...this.#kafkaChecks(), ...this.ingest.checks()], details);
  }

  #kafkaChecks(): HealthCheck[] {
    const brokers = this.#opts.brokers;
    return [
      {
        name: "broker",
        check: () => {
          const e = this.#brokerError;
          if (e) return `${brokers} unreachable for ${secondsSince(e.since)} s: ${e.error}`;
          const c = this.#consumer?.status();
          if (!c) return "connecting";
          if (c.lastContactAt === null) return `no answer from ${brokers} yet`;
          if (performance.now() - c.lastContactAt > c.sessionTimeoutMs) {
            return `no answer from ${brokers} for ${secondsSince(c.lastContactAt)} s` +
              (c.lastError ? ` (last error: ${c.lastError})` : "");
          }
          return null;
        },
      },
      {
        name: "group",
        check: () => {
          const c = this.#consumer?.status();
          if (!c) return `not joined to group ${this.#opts.group} yet`;
          return c.member ? null : `not a member of group ${this.#opts.group}` +
            (c.lastError ? ` (last error: ${c.lastError})` : " (joining or rebalancing)");
        },
      },
    ];
  }

  #lagGauge(): void {
    scrapedGauge(this.registry, {
      name: "smarttech_consume_lag",
      help: "Messages behind the end offset: end offset minus the next offset the tables need",
      labelNames: ["topic", "partition"],
    }, async (gauge) => {
      gauge.reset();
      const lag = this.#lag;
      const ingestor = this.#ingestor;
      if (!lag || !ingestor) return;
      const { topic, appName } = this.#opts;
      try {
        const l = await lag.fetch((p) =>
          ingestor.resumePosition(partitionAppId(appName, topic, p))
        );
        for (const p of l.partitions) gauge.set({ topic, partition: String(p.partition) }, p.lag);
      } catch { /* broker away: /healthz says so; no stale series */ }
    });
  }

  async close(): Promise<void> {
    await this.#lag?.close();
    await this.server.close();
  }
}
