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

/*
 * `ignoreBOM: true` keeps a leading byte order mark in the text, so bronze holds the payload
 * exactly (TextDecoder drops it by default). The reading is decoded without it: RFC 8259 lets
 * a parser ignore a BOM, and Windows tools write them.
 */
const lossyUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const withoutBom = (s: string) => s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;

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

/**
 * Interns the few distinct values of low-cardinality fields (building, type, unit, device id,
 * reason): JSON.parse makes a fresh string per message, and a batch holds 100k of them.
 */
class Interner {
  readonly #map = new Map<string, string>();
  get(s: string): string {
    const hit = this.#map.get(s);
    if (hit !== undefined) return hit;
    if (this.#map.size > 100_000) this.#map.clear();
    this.#map.set(s, s);
    return s;
  }
}

/** The staging columns of a batch; numbers use NaN for "null" so arrays stay unboxed. */
interface StagedColumns {
  app: number[];
  pos: number[];
  key: (string | null)[];
  kts: number[];
  payload: string[];
  b64: (string | null)[];
  status: number[];
  building: (string | null)[];
  type: (string | null)[];
  reason: (string | null)[];
  detail: (string | null)[];
  ts: number[];
  deviceId: (string | null)[];
  floor: number[];
  value: number[];
  unit: (string | null)[];
}

const interner = new Interner();

export class Batch {
  readonly #c: StagedColumns = {
    app: [],
    pos: [],
    key: [],
    kts: [],
    payload: [],
    b64: [],
    status: [],
    building: [],
    type: [],
    reason: [],
    detail: [],
    ts: [],
    deviceId: [],
    floor: [],
    value: [],
    unit: [],
  };
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
    return this.#c.pos.length;
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
    if (this.size === 0) this.startedAt = performance.now();
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
        decoded = decodeReading(withoutBom(text), { maxBytes: this.opts.maxPayloadBytes });
      } catch {
        text = lossyUtf8.decode(rec.payload);
        raw64 = base64(rec.payload);
        decoded = decodeReading(rec.payload, { maxBytes: this.opts.maxPayloadBytes });
      }
    }
    this.bytes += text.length + 120;
    this.counts.records++;
    const c = this.#c;
    c.app.push(app.index);
    c.pos.push(rec.position);
    c.key.push(rec.key === null ? null : interner.get(rec.key));
    c.kts.push(rec.kafkaTimestampMs ?? NaN);
    c.payload.push(text);
    c.b64.push(raw64);
    if (decoded.ok) {
      const r = decoded.reading;
      const verdict = inSilver ? "new" : this.dedup.check(r.deviceId, r.type, r.timestamp);
      if (verdict !== "too_late") {
        if (verdict === "new") {
          this.counts.valid++;
          if (r.timestamp > this.newestEventMs) this.newestEventMs = r.timestamp;
        } else this.counts.duplicates++;
        c.status.push(verdict === "new" ? STATUS.valid : STATUS.duplicate);
        c.building.push(interner.get(r.building));
        c.type.push(r.type);
        c.reason.push(null);
        c.detail.push(null);
        c.ts.push(r.timestamp);
        c.deviceId.push(interner.get(r.deviceId));
        c.floor.push(r.floor);
        c.value.push(r.value);
        c.unit.push(r.unit);
        return;
      }
      this.#reject(
        decoded.hints,
        "too_late",
        `event time ${new Date(r.timestamp).toISOString()} is more than the dedup horizon ` +
          `(${this.dedup.horizonMs / 1000} s) behind this device's newest reading`,
      );
      return;
    }
    this.#reject(decoded.hints, decoded.reason, decoded.detail);
  }

  #reject(hints: { building: string | null; type: string | null }, reason: string, detail: string) {
    this.counts.rejected++;
    const c = this.#c;
    c.status.push(STATUS.rejected);
    c.building.push(hints.building === null ? null : interner.get(hints.building));
    c.type.push(hints.type === null ? null : interner.get(hints.type));
    c.reason.push(interner.get(reason));
    c.detail.push(detail);
    c.ts.push(NaN);
    c.deviceId.push(null);
    c.floor.push(NaN);
    c.value.push(NaN);
    c.unit.push(null);
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
    const c = this.#c;
    // Same order as STAGING_COLUMNS.
    const cols: (number[] | (string | null)[])[] = [
      c.app,
      c.pos,
      c.key,
      c.kts,
      c.payload,
      c.b64,
      c.status,
      c.building,
      c.type,
      c.reason,
      c.detail,
      c.ts,
      c.deviceId,
      c.floor,
      c.value,
      c.unit,
    ];
    const kinds = STAGING_COLUMNS.map(([, t]) => t);
    const appender = await conn.createAppender("staging");
    try {
      const n = this.size;
      for (let row = 0; row < n; row++) {
        for (let i = 0; i < cols.length; i++) {
          const v = cols[i][row];
          if (v === null || (typeof v === "number" && Number.isNaN(v))) appender.appendNull();
          else if (kinds[i] === "VARCHAR") appender.appendVarchar(v as string);
          else if (kinds[i] === "DOUBLE") appender.appendDouble(v as number);
          else if (kinds[i] === "INTEGER") appender.appendInteger(v as number);
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
