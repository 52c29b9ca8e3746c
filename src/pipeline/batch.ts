/**
 * The in-memory batch between a source (Kafka or files) and the Delta writer.
 *
 * Records are decoded and deduplicated as they arrive and become one row per READING with the
 * decoded fields beside the raw payload, in ONE DuckDB staging table from which silver and
 * quarantine are projections (status 0 valid → silver, 2 rejected → quarantine), and bronze
 * one of the `staging_messages` view (one row per record). A record carries one reading, or
 * several when it is a wide payload (decode.ts `decodeMessage`): its rows share the record's
 * position (`pos`) and payload and are told apart by `part` (0-based) of `parts`; dedup is per
 * reading, exactly-once per record. Per record, bronze gets `readings` (= parts) and
 * `duplicates` (its readings found to be duplicates), so that always
 *   sum(bronze.readings) = count(silver) + count(quarantine) + sum(bronze.duplicates).
 * A record's bronze status is valid when any of its readings reached silver, duplicate when
 * all were duplicates, else rejected. Constant per-stream fields (source, topic, partition,
 * file) live in a small `staging_apps` table joined in SQL instead of being repeated per row.
 *
 * The catalogue's `columns:` a reading carried travel as `extras`, a JSON object text (values
 * already typed by decode: a wrong-typed optional field is null, never a reject), NULL when the
 * payload carried none; silver's projection turns it into columns.
 *
 * Rows go to DuckDB while the batch fills, a data chunk of 2,048 at a time, through an appender
 * on the batch's own connection: JavaScript holds at most one chunk, so a record's payload
 * string and fields die young instead of being promoted to V8's old generation and collected
 * there after every flush (that was a fifth of the consumer's JavaScript time, and most of its
 * heap). The low-cardinality strings (key, building, type, device, unit, reason) travel as codes
 * into a per-batch dictionary that the `staging` view decodes: crossing from JS into DuckDB
 * costs per string, so a row costs one crossing (its payload) instead of one per field.
 *
 * Every row remembers its source coordinate (appId, position): the writer filters on it against
 * the txn versions stored in each table, which makes a replay after a crash or a rebalance
 * harmless.
 */
import {
  DOUBLE,
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBDataChunk,
  type DuckDBType,
  INTEGER,
  UTINYINT,
  VARCHAR,
} from "@duckdb/node-api";
import type { SensorCatalogue } from "../reading/catalogue.ts";
import { decodeMessage, type DecodeOptions, type DecodeResult } from "../reading/decode.ts";
import { appendKeyedStrings, appendRows, VECTOR_SIZE } from "../duckdb/engine.ts";
import { base64, lossyUtf8, strictUtf8, withoutBom } from "./payload_text.ts";
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

/**
 * Status codes of the staging table (bronze shows the first three as words). The last two are
 * provisional, resolved against silver before anything is written (writer.ts): `check`, a
 * reading older than the dedup cache covers; `replay`, a reading whose position silver already
 * holds but bronze does not (a crash between the two commits), valid when silver's row for its
 * key is this very record.
 */
export const STATUS = { valid: 0, duplicate: 1, rejected: 2, check: 3, replay: 4 } as const;

/**
 * Columns of `staging_rows`, in chunk order. No value is NULL: the node-api's validity mask
 * costs BigInt arithmetic per row once a chunk holds one NULL. Numbers travel as DOUBLE (exact
 * below 2^53, no BigInt) with NaN for NULL; a `code` indexes the batch's dictionary from 1, and
 * 0 (no such list element) reads as NULL. The rare optional strings (a reject's detail, the
 * base64 of a non-UTF-8 payload, the extra columns' JSON) go to SIDE_COLUMNS' tables, a row per
 * reading that has one, joined on `row` (the reading's index in the batch, written from the
 * loop counter, not stored).
 */
const ROW_COLUMNS = [
  ["row", "index"],
  ["app", "INTEGER"],
  ["pos", "DOUBLE"],
  ["part", "INTEGER"],
  ["parts", "INTEGER"],
  ["key", "code"],
  ["kts", "DOUBLE"],
  ["payload", "VARCHAR"],
  ["status", "UTINYINT"],
  ["building", "code"],
  ["type", "code"],
  ["reason", "code"],
  ["ts", "DOUBLE"],
  ["device_id", "code"],
  ["floor", "DOUBLE"],
  ["value", "DOUBLE"],
  ["unit", "code"],
] as const;

/**
 * The optional strings of a few rows — a reject's detail, the base64 of a non-UTF-8 payload, the
 * catalogue columns' JSON — each its own (row, s) table of the rows that have one: no NULLs to
 * cross (see ROW_COLUMNS), one string crossing each, none for the rows without.
 */
const SIDE_COLUMNS = ["detail", "b64", "extras"] as const;

/** Rows of a data chunk: DuckDB's vector size (a larger count is refused). */
const CHUNK_ROWS = VECTOR_SIZE;

/** Payload bytes after which a chunk goes to DuckDB before it is full (large messages). */
const CHUNK_BYTES = 1024 * 1024;

const CHUNK_TYPES: Record<(typeof ROW_COLUMNS)[number][1], DuckDBType> = {
  INTEGER: INTEGER,
  DOUBLE: DOUBLE,
  VARCHAR: VARCHAR,
  UTINYINT: UTINYINT,
  code: INTEGER,
  index: INTEGER,
};

/** The DuckDB type of each ROW_COLUMNS column, in chunk order. */
const CHUNK_COLUMN_TYPES = ROW_COLUMNS.map(([, t]) => CHUNK_TYPES[t]);

/** Counters a batch adds up, for progress lines and the accounting invariant. */
export interface BatchCounts {
  records: number;
  /** Readings the records carried (a wide payload carries several): valid + rejected + duplicates + unresolved. */
  readings: number;
  valid: number;
  rejected: number;
  duplicates: number;
  /** Rows staged as `check` or `replay`, until the writer resolves them into valid/duplicates. */
  unresolved: number;
}

interface AppInfo {
  index: number;
  appId: string;
  source: "kafka" | "file";
  topic: string | null;
  partition: number | null;
  file: string | null;
  counts: AppCounts;
}

/** What one source (a file, a partition) contributed to a batch: the per-file summary's figures. */
export interface AppCounts {
  records: number;
  valid: number;
  duplicates: number;
  /** Quarantined records by reason. */
  rejected: Record<string, number>;
}

export interface BatchOptions {
  /** Largest accepted payload for decoding; larger ones are quarantined as too_large. */
  maxPayloadBytes?: number;
  /** How far ahead of the ingest clock an event time may be, ms (default 5 minutes). */
  futureToleranceMs?: number;
  /** The sensor catalogue records are decoded with (default: the repository's). */
  catalogue?: SensorCatalogue;
}

/** The staging columns a batch stores, as ROW_COLUMNS lays them out (NaN and code 0 for NULL). */
type StagedColumns = {
  [K in Exclude<(typeof ROW_COLUMNS)[number][0], "row">]: K extends "payload" ? string[]
    : number[];
};

/**
 * One row per record, for bronze: the staging row itself for a record of one reading, the
 * record's rows folded together for a wide one (its status from theirs, see the module
 * comment; no type: the record had none). A view, so statuses the writer resolves later count.
 */
const STAGING_MESSAGES = `CREATE OR REPLACE TEMP VIEW staging_messages AS
  SELECT * EXCLUDE (part, parts), 1 AS readings,
    (status = ${STATUS.duplicate})::INTEGER AS duplicates
  FROM staging WHERE parts = 1
  UNION ALL BY NAME
  SELECT min("row") AS "row", app, pos, any_value(key) AS key, any_value(kts) AS kts,
    any_value(payload) AS payload,
    (CASE WHEN bool_or(status = ${STATUS.valid}) THEN ${STATUS.valid}
      WHEN bool_and(status = ${STATUS.duplicate}) THEN ${STATUS.duplicate}
      ELSE ${STATUS.rejected} END)::UTINYINT AS status,
    any_value(building) AS building, NULL::VARCHAR AS type, any_value(b64) AS b64,
    count(*)::INTEGER AS readings,
    count(*) FILTER (WHERE status = ${STATUS.duplicate})::INTEGER AS duplicates
  FROM staging WHERE parts > 1 GROUP BY app, pos`;

export class Batch {
  /** The rows of the chunk being filled (rows before it are in DuckDB already). */
  readonly #c = Object.fromEntries(
    ROW_COLUMNS.filter(([, kind]) => kind !== "index").map(([name]) => [name, []]),
  ) as unknown as StagedColumns;
  /** Rows handed to the appender so far (the index of the chunk's first row). */
  #chunkStart = 0;
  /** Approximate bytes of the chunk being filled. */
  #chunkBytes = 0;
  /** Closed once staged or discarded. */
  #appender: DuckDBAppender | null;
  /** The batch's dictionary of low-cardinality strings: code = index + 1. */
  readonly #codes = new Map<string, number>();
  readonly #strings: string[] = [];
  /** The rare optional strings, each a [row, text] list (see SIDE_COLUMNS). */
  readonly #side: Record<(typeof SIDE_COLUMNS)[number], [number, string][]> = {
    detail: [],
    b64: [],
    extras: [],
  };
  /** Records added (a wide one stages several rows). */
  #records = 0;
  /** Reused for every record's decoded readings. */
  readonly #decoded: DecodeResult[] = [];
  readonly #apps = new Map<string, AppInfo>();
  /** Highest position seen per appId in this batch (the txn version to commit). */
  readonly lastPosition = new Map<string, number>();
  readonly counts: BatchCounts = {
    records: 0,
    readings: 0,
    valid: 0,
    rejected: 0,
    duplicates: 0,
    unresolved: 0,
  };
  /**
   * The silver version the dedup cache reflected when this batch opened: silver commits after
   * it by other writers are checked against the batch's rows before it commits.
   */
  baseVersion = -1;
  /** Approximate bytes held (payloads dominate), for the max-bytes flush trigger. */
  bytes = 0;
  /** performance.now() of the first record, for the max-latency flush trigger. */
  startedAt = 0;
  /** Newest event time of a valid reading in the batch (for freshness). */
  newestEventMs = 0;
  /** appIds whose thresholds have been looked up for this batch. */
  readonly knownApps = new Set<string>();
  /** Reused for every record; `nowMs` is the ingest clock (see #addRow). */
  readonly #decodeOpts: DecodeOptions;

  private constructor(
    /** The batch's connection: its staging tables are temporary, so they live on it. */
    readonly conn: DuckDBConnection,
    appender: DuckDBAppender,
    readonly dedup: DedupState,
    readonly thresholds: Thresholds,
    readonly opts: BatchOptions,
  ) {
    this.#appender = appender;
    this.#decodeOpts = {
      maxBytes: opts.maxPayloadBytes,
      futureToleranceMs: opts.futureToleranceMs,
      nowMs: 0,
      catalogue: opts.catalogue,
    };
  }

  /**
   * The catalogue records are decoded with; setting it applies from the next record (a
   * reloaded sensors.yaml takes effect at once, in the open batch too).
   */
  get catalogue(): SensorCatalogue | undefined {
    return this.#decodeOpts.catalogue;
  }
  set catalogue(cat: SensorCatalogue | undefined) {
    this.#decodeOpts.catalogue = cat;
  }

  /**
   * An empty batch staging on `conn`, which must not be running a query while records are
   * added (a full chunk is appended at once) — give each batch in flight its own connection.
   */
  static async open(
    conn: DuckDBConnection,
    dedup: DedupState,
    thresholds: Thresholds,
    opts: BatchOptions = {},
  ): Promise<Batch> {
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE staging_rows (${
        ROW_COLUMNS.map(([n, t]) => `"${n}" ${CHUNK_TYPES[t]}`).join(", ")
      })`,
    );
    return new Batch(conn, await conn.createAppender("staging_rows"), dedup, thresholds, opts);
  }

  /** Per source (appId) of this batch, what it contributed. */
  appCounts(): Map<string, AppCounts> {
    return new Map([...this.#apps.values()].map((a) => [a.appId, a.counts]));
  }

  /**
   * Re-reads the valid and duplicate counts per source from the staging table, after the writer
   * changed statuses there (rows resolved against silver, keys another writer took).
   */
  async recountApps(): Promise<void> {
    const reader = await this.conn.runAndReadAll(
      `SELECT app, count(*) FILTER (WHERE status = ${STATUS.valid}),
         count(*) FILTER (WHERE status = ${STATUS.duplicate})
       FROM staging GROUP BY app`,
    );
    const byIndex = new Map([...this.#apps.values()].map((a) => [a.index, a]));
    for (const [index, valid, duplicates] of reader.getRows()) {
      const app = byIndex.get(Number(index));
      if (!app) continue;
      app.counts.valid = Number(valid);
      app.counts.duplicates = Number(duplicates);
    }
  }

  /** Records added (each becomes at most one bronze row). */
  get size(): number {
    return this.#records;
  }

  /** Staging rows (readings) added so far; the next row's index. */
  get #rows(): number {
    return this.#chunkStart + this.#c.pos.length;
  }

  #code(s: string | null): number {
    if (s === null) return 0;
    let code = this.#codes.get(s);
    if (code === undefined) {
      code = this.#strings.push(s);
      this.#codes.set(s, code);
    }
    return code;
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
        counts: { records: 0, valid: 0, duplicates: 0, rejected: {} },
      };
      this.#apps.set(rec.appId, app);
    }
    return app;
  }

  /**
   * Decodes, classifies and stages one record. A record all three tables hold is dropped; one
   * silver already holds is not run through the dedup cache (which was seeded from silver, so
   * would call it a duplicate of itself).
   */
  add(rec: SourceRecord): void {
    this.#addRow(rec);
    if (this.#c.pos.length === CHUNK_ROWS || this.#chunkBytes >= CHUNK_BYTES) this.#appendChunk();
  }

  #addRow(rec: SourceRecord): void {
    const t = this.thresholds;
    const inSilver = rec.position <= (t.silver.get(rec.appId) ?? -1);
    if (
      inSilver && rec.position <= (t.bronze.get(rec.appId) ?? -1) &&
      rec.position <= (t.quarantine.get(rec.appId) ?? -1)
    ) return;
    if (this.#records === 0) this.startedAt = performance.now();
    const app = this.#app(rec);
    const prev = this.lastPosition.get(rec.appId);
    if (prev === undefined || rec.position > prev) this.lastPosition.set(rec.appId, rec.position);

    let text: string;
    let raw64: string | null = null;
    const decoded = this.#decoded;
    const decodeOpts = this.#decodeOpts;
    // The ingest clock, read every 256 records: a few ms of staleness against a tolerance of
    // minutes, for a clock read less on the hot path.
    if ((this.counts.records & 255) === 0) decodeOpts.nowMs = Date.now();
    if (typeof rec.payload === "string") {
      text = rec.payload;
      decodeMessage(text, decodeOpts, decoded);
    } else {
      try {
        text = strictUtf8.decode(rec.payload);
        decodeMessage(withoutBom(text), decodeOpts, decoded);
      } catch {
        text = lossyUtf8.decode(rec.payload);
        raw64 = base64(rec.payload);
        decodeMessage(rec.payload, decodeOpts, decoded);
      }
    }
    const cost = text.length + 120;
    this.bytes += cost;
    this.#chunkBytes += cost;
    this.#records++;
    this.counts.records++;
    app.counts.records++;
    const parts = decoded.length;
    this.counts.readings += parts;
    for (let part = 0; part < parts; part++) {
      this.#addReading(rec, app, inSilver, text, raw64, decoded[part], part, parts);
    }
    decoded.length = 0;
  }

  /** Stages one reading of a record (`part` of `parts`). */
  #addReading(
    rec: SourceRecord,
    app: AppInfo,
    inSilver: boolean,
    text: string,
    raw64: string | null,
    decoded: DecodeResult,
    part: number,
    parts: number,
  ): void {
    const t = this.thresholds;
    const c = this.#c;
    c.app.push(app.index);
    c.pos.push(rec.position);
    c.part.push(part);
    c.parts.push(parts);
    c.key.push(this.#code(rec.key));
    c.kts.push(rec.kafkaTimestampMs ?? NaN);
    if (raw64 !== null) this.#side.b64.push([this.#rows - 1, raw64]);
    c.payload.push(text);
    if (decoded.ok) {
      const r = decoded.reading;
      if (decoded.extras !== null) {
        this.#side.extras.push([this.#rows - 1, JSON.stringify(decoded.extras)]);
      }
      let status: number;
      if (inSilver) {
        // Bronze holds it too: only quarantine could still want the record, and not this one.
        if (rec.position <= (t.bronze.get(rec.appId) ?? -1)) status = STATUS.valid;
        else status = STATUS.replay;
      } else {
        const verdict = this.dedup.check(r.deviceId, r.type, r.timestamp);
        status = verdict === "new"
          ? STATUS.valid
          : verdict === "duplicate"
          ? STATUS.duplicate
          : STATUS.check;
      }
      if (status === STATUS.valid) {
        this.counts.valid++;
        app.counts.valid++;
        if (r.timestamp > this.newestEventMs) this.newestEventMs = r.timestamp;
      } else if (status === STATUS.duplicate) {
        this.counts.duplicates++;
        app.counts.duplicates++;
      } else this.counts.unresolved++;
      c.status.push(status);
      c.building.push(this.#code(r.building));
      c.type.push(this.#code(r.type));
      c.reason.push(0);
      c.ts.push(r.timestamp);
      c.device_id.push(this.#code(r.deviceId));
      c.floor.push(r.floor);
      c.value.push(r.value);
      c.unit.push(this.#code(r.unit));
      return;
    }
    this.#reject(app, decoded.hints, decoded.reason, decoded.detail);
  }

  #reject(
    app: AppInfo,
    hints: { building: string | null; type: string | null },
    reason: string,
    detail: string,
  ) {
    this.counts.rejected++;
    app.counts.rejected[reason] = (app.counts.rejected[reason] ?? 0) + 1;
    const c = this.#c;
    c.status.push(STATUS.rejected);
    c.building.push(this.#code(hints.building));
    c.type.push(this.#code(hints.type));
    c.reason.push(this.#code(reason));
    this.#side.detail.push([this.#rows - 1, detail]);
    c.ts.push(NaN);
    c.device_id.push(0);
    c.floor.push(NaN);
    c.value.push(NaN);
    c.unit.push(0);
  }

  /** Hands the filled rows to the appender as one data chunk, column by column. */
  #appendChunk(): void {
    const appender = this.#appender;
    if (!appender) throw new Error("batch already staged or discarded");
    const rows = this.#c.pos.length;
    if (rows === 0) return;
    const start = this.#chunkStart;
    const chunk = DuckDBDataChunk.create(CHUNK_COLUMN_TYPES, rows);
    ROW_COLUMNS.forEach(([name], i) => {
      const vector = chunk.getColumnVector(i);
      if (name === "row") { for (let j = 0; j < rows; j++) vector.setItem(j, start + j); }
      else {
        const values = this.#c[name];
        for (let j = 0; j < rows; j++) vector.setItem(j, values[j]);
        values.length = 0;
      }
      vector.flush();
    });
    appender.appendDataChunk(chunk);
    this.#chunkStart += rows;
    this.#chunkBytes = 0;
  }

  /** Drops the rows appended so far (a batch abandoned unflushed). */
  discard(): void {
    const appender = this.#appender;
    this.#appender = null;
    if (!appender) return;
    appender.clear();
    appender.closeSync();
  }

  /**
   * Completes the staging tables on the batch's connection: `staging_rows` (the last chunk),
   * the SIDE_COLUMNS tables, `staging_dict` and `staging_apps`, then `staging`, joining them
   * into one row per reading with the columns ROW_COLUMNS names plus SIDE_COLUMNS.
   */
  async stage(): Promise<void> {
    const conn = this.conn;
    this.#appendChunk();
    const appender = this.#appender;
    if (!appender) throw new Error("batch already staged or discarded");
    this.#appender = null;
    try {
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    await conn.run("CREATE OR REPLACE TEMP TABLE staging_dict (code INTEGER, s VARCHAR)");
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE staging_apps (app INTEGER, app_id VARCHAR, source VARCHAR,
        topic VARCHAR, kafka_partition INTEGER, file VARCHAR, label VARCHAR)`,
    );
    await appendRows(
      conn,
      "staging_apps",
      [...this.#apps.values()].map((a) => [
        a.index,
        a.appId,
        a.source,
        a.topic,
        a.partition,
        a.file,
        a.source === "kafka" ? `kafka:${a.topic}:${a.partition}:` : `file:${a.file}:`,
      ]),
    );
    await appendRows(conn, "staging_dict", this.#strings.map((str, i) => [i + 1, str]));
    for (const name of SIDE_COLUMNS) {
      await conn.run(`CREATE OR REPLACE TEMP TABLE "staging_${name}" (row INTEGER, s VARCHAR)`);
      await appendKeyedStrings(conn, `staging_${name}`, this.#side[name]);
      this.#side[name].length = 0;
    }
    const decoded = ROW_COLUMNS.map(([n, t]) =>
      t === "code"
        ? `d.strings[r."${n}"] AS "${n}"`
        : t === "DOUBLE"
        ? `nullif(r."${n}", 'NaN'::DOUBLE) AS "${n}"`
        : `r."${n}"`
    );
    // Materialised once, and its inputs dropped: every table's write reads it twice (partition
    // counts, then the COPY), and each read of a view re-decoded the dictionary and re-joined
    // the extras — holding the batch twice over, past the writer's memory limit when a batch
    // was all rejects (a detail each). The writer's status changes go to this table.
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE staging AS SELECT ${decoded.join(", ")}, ${
        SIDE_COLUMNS.map((n) => `"x_${n}".s AS ${n}`).join(", ")
      }
        FROM staging_rows r
        CROSS JOIN (SELECT list(s ORDER BY code) AS strings FROM staging_dict) d
        ${
        SIDE_COLUMNS.map((n) => `LEFT JOIN "staging_${n}" "x_${n}" ON "x_${n}".row = r.row`).join(
          " ",
        )
      }`,
    );
    for (const name of ["rows", ...SIDE_COLUMNS]) await conn.run(`DROP TABLE "staging_${name}"`);
    await conn.run(STAGING_MESSAGES);
  }
}
