/**
 * The in-memory batch between a source (Kafka or files) and the Delta writer.
 *
 * Records are decoded and deduplicated as they arrive and kept as one row per record with the
 * decoded fields beside the raw payload; a flush bulk-loads them into ONE DuckDB staging table,
 * from which bronze, silver and quarantine are projections (status 0 valid → silver, 2 rejected
 * → quarantine, every row → bronze). Constant per-stream fields (source, topic, partition, file)
 * live in a small `staging_apps` table joined in SQL instead of being repeated per row.
 *
 * Every row remembers its source coordinate (appId, position): the writer filters on it against
 * the txn versions stored in each table, which makes a replay after a crash or a rebalance
 * harmless.
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

/** Status codes of the staging table (bronze shows them as words). */
export const STATUS = { valid: 0, duplicate: 1, rejected: 2 } as const;

/** Staging columns in append order; numbers travel as DOUBLE (exact below 2^53, no BigInt). */
const STAGING_COLUMNS: [string, "INTEGER" | "DOUBLE" | "VARCHAR" | "UTINYINT"][] = [
  ["app", "INTEGER"],
  ["pos", "DOUBLE"],
  ["key", "VARCHAR"],
  ["kts", "DOUBLE"],
  ["payload", "VARCHAR"],
  ["b64", "VARCHAR"],
  ["status", "UTINYINT"],
  ["building", "VARCHAR"],
  ["type", "VARCHAR"],
  ["reason", "VARCHAR"],
  ["detail", "VARCHAR"],
  ["ts", "DOUBLE"],
  ["device_id", "VARCHAR"],
  ["floor", "INTEGER"],
  ["value", "DOUBLE"],
  ["unit", "VARCHAR"],
];

/** Counters a batch adds up, for progress lines and the accounting invariant. */
export interface BatchCounts {
  records: number;
  valid: number;
  rejected: number;
  duplicates: number;
}

interface AppInfo {
  index: number;
  appId: string;
  source: "kafka" | "file";
  topic: string | null;
  partition: number | null;
  file: string | null;
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

type Cell = string | number | null;

export class Batch {
  readonly #rows: Cell[][] = [];
  readonly #apps = new Map<string, AppInfo>();
  /** Highest position seen per appId in this batch (the txn version to commit). */
  readonly lastPosition = new Map<string, number>();
  readonly counts: BatchCounts = { records: 0, valid: 0, rejected: 0, duplicates: 0 };
  /** Approximate bytes held (payloads dominate), for the max-bytes flush trigger. */
  bytes = 0;
  /** performance.now() of the first record, for the max-latency flush trigger. */
  startedAt = 0;
  /** Newest event time of a valid reading in the batch (for freshness). */
  newestEventMs = 0;
  /** appIds whose thresholds have been looked up for this batch. */
  readonly knownApps = new Set<string>();

  constructor(
    readonly dedup: DedupState,
    readonly thresholds: Thresholds,
    readonly opts: BatchOptions = {},
  ) {}

  /** Records staged (each becomes at most one bronze row). */
  get size(): number {
    return this.#rows.length;
  }

  /** appIds staged in this batch. */
  get appIds(): string[] {
    return [...this.#apps.keys()];
  }

  #app(rec: SourceRecord): AppInfo {
    let app = this.#apps.get(rec.appId);
    if (!app) {
      app = {
        index: this.#apps.size,
        appId: rec.appId,
        source: rec.source,
        topic: rec.topic,
        partition: rec.partition,
        file: rec.file,
      };
      this.#apps.set(rec.appId, app);
    }
    return app;
  }

  /**
   * Decodes, classifies and stages one record. A record all three tables hold is dropped; one
   * silver already holds is not re-checked for duplicates (dedup state was seeded from silver).
   */
  add(rec: SourceRecord): void {
    const t = this.thresholds;
    const inSilver = rec.position <= (t.silver.get(rec.appId) ?? -1);
    if (
      inSilver && rec.position <= (t.bronze.get(rec.appId) ?? -1) &&
      rec.position <= (t.quarantine.get(rec.appId) ?? -1)
    ) return;
    if (this.#rows.length === 0) this.startedAt = performance.now();
    const app = this.#app(rec);
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
    this.bytes += text.length + 160;
    this.counts.records++;
    const hints = decoded.hints;
    const head: Cell[] = [app.index, rec.position, rec.key, rec.kafkaTimestampMs, text, raw64];
    if (decoded.ok) {
      const r = decoded.reading;
      const verdict = inSilver ? "new" : this.dedup.check(r.deviceId, r.type, r.timestamp);
      if (verdict !== "too_late") {
        const status = verdict === "new" ? STATUS.valid : STATUS.duplicate;
        if (status === STATUS.valid) {
          this.counts.valid++;
          if (r.timestamp > this.newestEventMs) this.newestEventMs = r.timestamp;
        } else this.counts.duplicates++;
        this.#rows.push([
          ...head,
          status,
          r.building,
          r.type,
          null,
          null,
          r.timestamp,
          r.deviceId,
          r.floor,
          r.value,
          r.unit,
        ]);
        return;
      }
      this.#reject(
        head,
        hints,
        "too_late",
        `event time ${new Date(r.timestamp).toISOString()} is more than the dedup horizon ` +
          `(${this.dedup.horizonMs / 1000} s) behind this device's newest reading`,
      );
      return;
    }
    this.#reject(head, hints, decoded.reason, decoded.detail);
  }

  #reject(
    head: Cell[],
    hints: { building: string | null; type: string | null },
    reason: string,
    detail: string,
  ) {
    this.counts.rejected++;
    this.#rows.push([
      ...head,
      STATUS.rejected,
      hints.building,
      hints.type,
      reason,
      detail,
      null,
      null,
      null,
      null,
      null,
    ]);
  }

  /** Bulk-loads the batch into `staging` and `staging_apps` temp tables on `conn`. */
  async stage(conn: DuckDBConnection): Promise<void> {
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE staging (${
        STAGING_COLUMNS.map(([n, t]) => `"${n}" ${t}`).join(", ")
      })`,
    );
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE staging_apps (app INTEGER, app_id VARCHAR, source VARCHAR,
        topic VARCHAR, kafka_partition INTEGER, file VARCHAR, label VARCHAR)`,
    );
    const apps = await conn.createAppender("staging_apps");
    try {
      for (const a of this.#apps.values()) {
        apps.appendInteger(a.index);
        apps.appendVarchar(a.appId);
        apps.appendVarchar(a.source);
        for (const v of [a.topic, a.partition, a.file]) {
          if (v === null) apps.appendNull();
          else if (typeof v === "number") apps.appendInteger(v);
          else apps.appendVarchar(v);
        }
        apps.appendVarchar(
          a.source === "kafka" ? `kafka:${a.topic}:${a.partition}:` : `file:${a.file}:`,
        );
        apps.endRow();
      }
      apps.flushSync();
    } finally {
      apps.closeSync();
    }
    const appender = await conn.createAppender("staging");
    try {
      const types = STAGING_COLUMNS.map(([, t]) => t);
      const n = types.length;
      for (const row of this.#rows) {
        for (let i = 0; i < n; i++) {
          const v = row[i];
          if (v === null) appender.appendNull();
          else if (types[i] === "VARCHAR") appender.appendVarchar(v as string);
          else if (types[i] === "DOUBLE") appender.appendDouble(v as number);
          else if (types[i] === "INTEGER") appender.appendInteger(v as number);
          else appender.appendUTinyInt(v as number);
        }
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }
}
