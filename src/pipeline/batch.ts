/**
 * The in-memory batch between a source (Kafka or files) and the Delta writer.
 *
 * Records are decoded and deduplicated as they arrive and kept column by column for the three
 * tables, so a flush is one bulk append per table into DuckDB. Every row remembers its source
 * coordinate (`appId`, `position`): the writer filters on it against the txn versions stored in
 * each table, which is what makes a replay after a crash or a rebalance harmless.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { decodeReading } from "../sensors/decode.ts";
import type { DedupState } from "./dedup.ts";
import type { IngestTable } from "./tables.ts";

/** One input record with its source coordinate. */
export interface SourceRecord {
  /** Exactly-once identity of the stream this record belongs to (the Delta txn appId). */
  appId: string;
  /** Monotonic position within `appId`: the Kafka offset or the record index in a file. */
  position: number;
  source: "kafka" | "file";
  topic: string | null;
  partition: number | null;
  key: string | null;
  kafkaTimestampMs: number | null;
  file: string | null;
  payload: Uint8Array | string;
}

/** Thresholds per table and appId: positions at or below are already committed there. */
export type Thresholds = Record<IngestTable, Map<string, number>>;

type Cell = string | number | null;

/** Column layout of each staging table: name and DuckDB type, in append order. */
const SOURCE_COLS: [string, string][] = [
  ["source", "VARCHAR"],
  ["topic", "VARCHAR"],
  ["kafka_partition", "INTEGER"],
  ["kafka_offset", "BIGINT"],
  ["kafka_key", "VARCHAR"],
  ["kafka_ts_ms", "BIGINT"],
  ["file", "VARCHAR"],
  ["payload", "VARCHAR"],
  ["payload_base64", "VARCHAR"],
];
const TAIL_COLS: [string, string][] = [
  ["building", "VARCHAR"],
  ["type", "VARCHAR"],
  ["_app", "VARCHAR"],
  ["_pos", "BIGINT"],
];

export const STAGING_COLUMNS: Record<IngestTable, [string, string][]> = {
  bronze: [...SOURCE_COLS, ["status", "VARCHAR"], ...TAIL_COLS],
  silver: [
    ["ts_ms", "BIGINT"],
    ["device_id", "VARCHAR"],
    ["floor", "INTEGER"],
    ["value", "DOUBLE"],
    ["unit", "VARCHAR"],
    ["source", "VARCHAR"],
    ...TAIL_COLS,
  ],
  quarantine: [["reason", "VARCHAR"], ["detail", "VARCHAR"], ...SOURCE_COLS, ...TAIL_COLS],
};

/** Counters a batch adds up, for progress lines and the accounting invariant. */
export interface BatchCounts {
  bronze: number;
  silver: number;
  quarantine: number;
  duplicates: number;
}

const lossyUtf8 = new TextDecoder("utf-8");
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

export interface BatchOptions {
  /** Largest accepted payload for decoding; larger ones are quarantined as too_large. */
  maxPayloadBytes?: number;
}

export class Batch {
  readonly rows: Record<IngestTable, Cell[][]> = { bronze: [], silver: [], quarantine: [] };
  /** Highest position seen per appId in this batch (the txn version to commit). */
  readonly lastPosition = new Map<string, number>();
  readonly counts: BatchCounts = { bronze: 0, silver: 0, quarantine: 0, duplicates: 0 };
  /** Approximate bytes held (payloads dominate), for the max-bytes flush trigger. */
  bytes = 0;
  /** performance.now() of the first record, for the max-latency flush trigger. */
  startedAt = 0;
  /** appIds whose thresholds have been looked up for this batch. */
  readonly knownApps = new Set<string>();
  /** Newest event time of a valid reading in the batch (for freshness). */
  newestEventMs = 0;

  constructor(
    readonly dedup: DedupState,
    readonly thresholds: Thresholds,
    readonly opts: BatchOptions = {},
  ) {}

  get size(): number {
    return this.counts.bronze;
  }

  /**
   * Decodes, classifies and stages one record. Records at or below a table's stored txn
   * version are not staged for that table (it already has them), and do not touch dedup state,
   * which was seeded from what silver holds.
   */
  add(rec: SourceRecord): void {
    const inBronze = rec.position <= (this.thresholds.bronze.get(rec.appId) ?? -1);
    const inSilver = rec.position <= (this.thresholds.silver.get(rec.appId) ?? -1);
    const inQuarantine = rec.position <= (this.thresholds.quarantine.get(rec.appId) ?? -1);
    if (inBronze && inSilver && inQuarantine) return;
    if (this.counts.bronze === 0 && this.lastPosition.size === 0) {
      this.startedAt = performance.now();
    }
    const prev = this.lastPosition.get(rec.appId);
    if (prev === undefined || rec.position > prev) this.lastPosition.set(rec.appId, rec.position);

    let text: string;
    let raw64: string | null = null;
    let decoded;
    if (typeof rec.payload === "string") {
      text = rec.payload;
      decoded = decodeReading(text, { maxBytes: this.opts.maxPayloadBytes });
    } else {
      try {
        text = strictUtf8.decode(rec.payload);
        decoded = decodeReading(text, { maxBytes: this.opts.maxPayloadBytes });
      } catch {
        text = lossyUtf8.decode(rec.payload);
        raw64 = base64(rec.payload);
        decoded = decodeReading(rec.payload, { maxBytes: this.opts.maxPayloadBytes });
      }
    }
    this.bytes += text.length + 200;

    let status: "valid" | "duplicate" | "rejected";
    let reason = "";
    let detail = "";
    if (decoded.ok) {
      const r = decoded.reading;
      // Records silver already holds were seeded into dedup state; do not re-check them.
      const verdict = inSilver ? "new" : this.dedup.check(r.deviceId, r.type, r.timestamp);
      if (verdict === "new") {
        status = "valid";
        if (!inSilver) {
          this.rows.silver.push([
            r.timestamp,
            r.deviceId,
            r.floor,
            r.value,
            r.unit,
            sourceLabel(rec),
            r.building,
            r.type,
            rec.appId,
            rec.position,
          ]);
          this.counts.silver++;
          if (r.timestamp > this.newestEventMs) this.newestEventMs = r.timestamp;
        }
      } else if (verdict === "duplicate") {
        status = "duplicate";
        if (!inBronze) this.counts.duplicates++;
      } else {
        status = "rejected";
        reason = "too_late";
        detail =
          `event time ${new Date(r.timestamp).toISOString()} is older than the dedup horizon ` +
          `(${this.dedup.horizonMs / 1000} s behind this device's newest reading)`;
      }
    } else {
      status = "rejected";
      reason = decoded.reason;
      detail = decoded.detail;
    }
    const hints = decoded.hints;
    const source: Cell[] = [
      rec.source,
      rec.topic,
      rec.partition,
      rec.position,
      rec.key,
      rec.kafkaTimestampMs,
      rec.file,
      text,
      raw64,
    ];
    if (!inBronze) {
      this.rows.bronze.push([
        ...source,
        status,
        hints.building,
        hints.type,
        rec.appId,
        rec.position,
      ]);
      this.counts.bronze++;
    }
    if (status === "rejected" && !inQuarantine) {
      this.rows.quarantine.push([
        reason,
        detail,
        ...source,
        hints.building,
        hints.type,
        rec.appId,
        rec.position,
      ]);
      this.counts.quarantine++;
    }
  }

  /** Bulk-loads the staged rows into `staging_<table>` temp tables on `conn`. */
  async stage(conn: DuckDBConnection): Promise<void> {
    for (const table of ["bronze", "silver", "quarantine"] as const) {
      const cols = STAGING_COLUMNS[table];
      await conn.run(
        `CREATE OR REPLACE TEMP TABLE staging_${table} (${
          cols.map(([n, t]) => `"${n}" ${t}`).join(", ")
        })`,
      );
      const rows = this.rows[table];
      if (rows.length === 0) continue;
      const appender = await conn.createAppender(`staging_${table}`);
      try {
        const types = cols.map(([, t]) => t);
        for (const row of rows) {
          for (let i = 0; i < row.length; i++) {
            const v = row[i];
            if (v === null) appender.appendNull();
            else if (types[i] === "VARCHAR") appender.appendVarchar(v as string);
            else if (types[i] === "INTEGER") appender.appendInteger(v as number);
            else if (types[i] === "BIGINT") appender.appendBigInt(BigInt(v as number));
            else appender.appendDouble(v as number);
          }
          appender.endRow();
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
    }
  }
}

function sourceLabel(rec: SourceRecord): string {
  return rec.source === "kafka"
    ? `kafka:${rec.topic}:${rec.partition}:${rec.position}`
    : `file:${rec.file}:${rec.position}`;
}
