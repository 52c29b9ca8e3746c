/**
 * Flags shared by the two ingestion CLIs (`consume`, `ingest-files`): flush policy, dedup and
 * auto-compaction.
 */
import { numberOption, type OptionSpecs, UsageError } from "../config.ts";
import { SENSORS_OPTION } from "../reading/catalogue_file.ts";
import { DEFAULT_COMPACTION, DEFAULT_FLUSH_POLICY, type IngestorOptions } from "./ingestor.ts";

export const INGEST_OPTIONS = {
  sensors: SENSORS_OPTION,
  "max-rows": {
    type: "string",
    env: "INGEST_MAX_ROWS",
    default: "50000",
    description: "Flush after this many buffered messages",
  },
  "max-bytes": {
    type: "string",
    env: "INGEST_MAX_BYTES",
    default: String(16 * 1024 * 1024),
    description: "Flush after this many buffered bytes",
  },
  "max-latency-ms": {
    type: "string",
    env: "INGEST_MAX_LATENCY_MS",
    default: "650",
    description: "Flush when the oldest buffered message is this old (freshness bound)",
  },
  "backlog-rows": {
    type: "string",
    env: "INGEST_BACKLOG_ROWS",
    default: String(DEFAULT_FLUSH_POLICY.backlogRows),
    description:
      "Flush size while consume is behind its topic by more than --max-rows messages: fewer, larger files and less CPU per message while draining a backlog (0: off)",
  },
  "dedup-horizon": {
    type: "string",
    env: "INGEST_DEDUP_HORIZON_S",
    default: "3600",
    description:
      "Seconds of event time the in-memory dedup cache holds per device (older readings are looked up in silver)",
  },
  "max-payload-bytes": {
    type: "string",
    env: "INGEST_MAX_PAYLOAD_BYTES",
    default: String(1024 * 1024),
    description: "Larger payloads are quarantined as too_large (bronze still keeps them)",
  },
  "future-tolerance": {
    type: "string",
    env: "INGEST_FUTURE_TOLERANCE_S",
    default: "300",
    description:
      "Readings more than this many seconds ahead of the ingest clock are quarantined as future_timestamp",
  },
  "compact-interval": {
    type: "string",
    env: "INGEST_COMPACT_INTERVAL_S",
    default: String(DEFAULT_COMPACTION.intervalMs / 1000),
    description:
      "Seconds between auto-compaction sweeps over partitions holding compact-min-files small files (0: never)",
  },
  "compact-min-files": {
    type: "string",
    env: "INGEST_COMPACT_MIN_FILES",
    default: String(DEFAULT_COMPACTION.minFiles),
    description: "Small files a partition must hold before auto-compaction rewrites them",
  },
  "compact-tier-files": {
    type: "string",
    env: "INGEST_COMPACT_TIER_FILES",
    default: String(DEFAULT_COMPACTION.tierFiles),
    description:
      "A partition's small files of one tier (appended, or compacted once, twice, …) are compacted after the flush that brings them to this many (0: never), so readers never see more",
  },
  "compact-target-bytes": {
    type: "string",
    env: "INGEST_COMPACT_TARGET_BYTES",
    default: String(DEFAULT_COMPACTION.targetBytes),
    description: "Auto-compaction packs files up to this size and never rewrites larger ones",
  },
  "duckdb-threads": {
    type: "string",
    env: "INGEST_DUCKDB_THREADS",
    default: "1",
    description:
      "DuckDB threads of the writer (0: DuckDB's choice, the cores or DUCKDB_THREADS). One is the fastest on 2 cores: with more, the querying thread polls DuckDB's task queue while the workers write",
  },
} as const satisfies OptionSpecs;

/** Builds the Ingestor options from parsed INGEST_OPTIONS (plus the lakehouse and query id). */
export function ingestorOptions(
  o: Record<keyof typeof INGEST_OPTIONS, string>,
  lakehouse: string,
  queryId: string,
): IngestorOptions {
  return {
    lakehouse,
    queryId,
    policy: {
      maxRows: numberOption("max-rows", o["max-rows"], { integer: true, min: 1 }),
      maxBytes: numberOption("max-bytes", o["max-bytes"], { integer: true, min: 1024 }),
      maxLatencyMs: numberOption("max-latency-ms", o["max-latency-ms"], { min: 10 }),
      backlogRows: numberOption("backlog-rows", o["backlog-rows"], { integer: true, min: 0 }),
    },
    dedupHorizonMs: numberOption("dedup-horizon", o["dedup-horizon"], { min: 1 }) * 1000,
    maxPayloadBytes: numberOption("max-payload-bytes", o["max-payload-bytes"], {
      integer: true,
      min: 1024,
    }),
    futureToleranceMs: numberOption("future-tolerance", o["future-tolerance"], { min: 0 }) * 1000,
    compaction: {
      intervalMs: numberOption("compact-interval", o["compact-interval"], { min: 0 }) * 1000,
      minFiles: numberOption("compact-min-files", o["compact-min-files"], {
        integer: true,
        min: 2,
      }),
      tierFiles: compactTierFiles(o["compact-tier-files"]),
      targetBytes: numberOption("compact-target-bytes", o["compact-target-bytes"], {
        integer: true,
        min: 1024,
      }),
    },
    threads: numberOption("duckdb-threads", o["duckdb-threads"], { integer: true, min: 0 }) ||
      undefined,
    onLog: (message) => console.error(message),
  };
}

/** 0 (off) or a count of at least 2: one file alone is never compacted. */
function compactTierFiles(value: string): number {
  const n = numberOption("compact-tier-files", value, { integer: true, min: 0 });
  if (n === 1) throw new UsageError("--compact-tier-files must be 0 (off) or at least 2, got 1");
  return n;
}
