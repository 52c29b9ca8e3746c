/**
 * What every bench scenario is given: the sizes of a mode, the producer configurations compared,
 * and the context (broker, topics, lakehouses, log, notes) the harness in bench/run.ts sets up.
 *
 * @module
 */
import type { KafkaBenchEnv, ProducerConfig } from "./kafka_bench.ts";
import {
  createSimulator,
  type Simulator,
  type SimulatorOptions,
} from "../src/simulator/simulator.ts";

/**
 * A site producing `rate` readings a second in real time from `start` (ms): 10 buildings × 10
 * floors × the four types, rate / 400 devices of each per floor at one reading a second each, so
 * event time follows the wall clock (the freshness and alarm-latency scenarios' background load).
 */
export function liveSite(seed: number, rate: number, seconds: number, start: number): Simulator {
  return createSimulator(liveSiteOptions(seed, rate, seconds, start));
}

/** liveSite's simulator options (bench/alarm_cycle.ts writes the same readings to silver). */
export function liveSiteOptions(
  seed: number,
  rate: number,
  seconds: number,
  start: number,
): SimulatorOptions {
  return {
    seed,
    start,
    intervalSeconds: 1,
    count: Math.round(rate * seconds),
    topology: { buildings: 10, floors: 10, devicesPerFloor: Math.max(1, Math.round(rate / 400)) },
  };
}

/** Sizes and repetitions of one bench mode. */
export interface BenchSizes {
  runs: number;
  producerMessages: number;
  freshnessSeconds: number;
  freshnessRate: number;
  freshnessRuns: number;
  goldRows: number;
  goldIncrementalRows: number;
  dashboardRuns: number;
  backlogMessages: number;
  memoryRuns: number;
  appendRows: number;
  commits: number;
  snapshotCommits: number;
  decodeMessages: number;
  /** Messages produced and read back, untimed, before the Kafka scenarios (0: none). */
  warmupMessages: number;
  /** Topic length of each workload of the peers scenario (clean, fleet) and of the rejects one. */
  peersMessages: number;
  /** Backfill scenario: readings in silver first, then readings one day older than them. */
  backfillSilverRows: number;
  backfillRows: number;
  /** Alarm-latency scenario: background msg/s, seconds, alarm episodes. */
  alarmRate: number;
  alarmSeconds: number;
  alarmEpisodes: number;
  /** Soak scenario: minutes and msg/s (5,200 devices). */
  soakMinutes: number;
  soakRate: number;
}

/** Full: the sizes docs/performance.md's figures are measured at. Quick: a smoke test that finishes in under 2 minutes. */
export const SIZES: Record<"full" | "quick", BenchSizes> = {
  full: {
    runs: 3,
    producerMessages: 1_000_000,
    freshnessSeconds: 60,
    freshnessRate: 10_000,
    freshnessRuns: 3,
    goldRows: 10_000_000,
    goldIncrementalRows: 100_000,
    dashboardRuns: 20,
    backlogMessages: 5_000_000,
    memoryRuns: 3,
    appendRows: 1_000_000,
    commits: 200,
    snapshotCommits: 10_000,
    decodeMessages: 500_000,
    warmupMessages: 3_000_000,
    peersMessages: 1_000_000,
    backfillSilverRows: 10_000_000,
    backfillRows: 1_000_000,
    alarmRate: 10_000,
    alarmSeconds: 100,
    alarmEpisodes: 20,
    soakMinutes: 10,
    soakRate: 5_000,
  },
  quick: {
    runs: 1,
    producerMessages: 100_000,
    freshnessSeconds: 10,
    freshnessRate: 10_000,
    freshnessRuns: 1,
    goldRows: 200_000,
    goldIncrementalRows: 20_000,
    dashboardRuns: 5,
    backlogMessages: 200_000,
    memoryRuns: 1,
    appendRows: 100_000,
    commits: 50,
    snapshotCommits: 1_000,
    decodeMessages: 100_000,
    warmupMessages: 0,
    peersMessages: 50_000,
    backfillSilverRows: 200_000,
    backfillRows: 20_000,
    alarmRate: 2_000,
    alarmSeconds: 20,
    alarmEpisodes: 4,
    soakMinutes: 1,
    soakRate: 5_000,
  },
};

/** The producer configurations compared: before (single thread, old defaults) and after. */
export const PRODUCERS: Record<"before" | "after", ProducerConfig> = {
  before: { workers: 1, acks: -1, batchSize: 5000 },
  after: { workers: 2, acks: 1, batchSize: 1000 },
};

/** What a scenario runner gets from the harness. */
export interface ScenarioContext {
  sizes: BenchSizes;
  env: KafkaBenchEnv;
  log: (line: string) => void;
  /** Notes for latest.md; a scenario may add its own. */
  notes: string[];
  /** A fresh topic of this run (deleted at the end). */
  topic: (name: string) => string;
  /** A fresh lakehouse directory in the run's temp dir. */
  lakehouse: () => string;
  /** Extra peers of the peers scenario: "spark". */
  peers?: string[];
}
