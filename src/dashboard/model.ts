/**
 * What the dashboard shows, computed from the lakehouse in one refresh shared by every viewer.
 *
 * A refresh first lists each table's `_delta_log` (a directory read) and loads a snapshot only
 * for tables whose version moved; every query result is cached under the versions it depends
 * on, so an idle lakehouse costs a few directory listings per refresh and no query at all.
 * "Now" is data time: the newest event time in silver, read from the file stats of the silver
 * snapshot, so a backfilled or simulated lakehouse still has a "last hour".
 */
import type { DuckDBValue } from "@duckdb/node-api";
import { listLog, listRecentLog } from "../delta/log.ts";
import { loadSnapshot, type Snapshot } from "../delta/snapshot.ts";
import { enableLocation } from "../duckdb/s3.ts";
import { resolveLocation } from "../storage/location.ts";
import { type DuckDB, openDuckDB, sqlIdent } from "../duckdb/engine.ts";
import { type LakehouseTable, listLakehouseTables } from "../query/views.ts";
import { snapshotScanSql } from "../delta/scan.ts";
import {
  CommitMetrics,
  newestEventMs,
  partitionValues,
  snapshotRows,
  type SourceWatermark,
  sourceWatermarks,
  type TableHealth,
} from "./pipeline_health.ts";
import type { SensorCatalogue } from "../reading/catalogue.ts";
import { builtinCatalogue } from "../reading/catalogue_file.ts";
import { loadCatalogueView, type Thresholds, type TypeView, typeViews } from "./catalogue_view.ts";
import { type DashboardQuery, loadDashboardSql, type Row, runQuery } from "./queries.ts";
import type { LagSource, TopicLag } from "../kafka/lag.ts";
import { partitionAppId, resumeFromSnapshots } from "../pipeline/positions.ts";
import { INGEST_TABLES } from "../pipeline/tables.ts";

/** The chart ranges a viewer may ask for; anything else is rejected by the server. */
export const SERIES_RANGES = {
  hour: { rangeMinutes: 60, bucketMinutes: 1, minRecomputeMs: 0 },
  /**
   * 24 h of silver is the most expensive query: while ingestion commits every second it is
   * recomputed at most every 30 s (its 15-minute buckets barely move in that time).
   */
  day: { rangeMinutes: 1440, bucketMinutes: 15, minRecomputeMs: 30_000 },
} as const;

export type SeriesRange = keyof typeof SERIES_RANGES;

/** True for a valid chart range name. */
export function isSeriesRange(value: string): value is SeriesRange {
  return Object.hasOwn(SERIES_RANGES, value);
}

/** What viewers see in the "nothing here yet" panel. */
export const EMPTY_HINT =
  "No readings in silver yet. Run `deno task demo`, or `deno task produce` and " +
  "`deno task consume` (or `deno task ingest-files`) against this lakehouse; the page updates " +
  "by itself when data arrives.";

/** Pipeline health panel. */
export interface PipelineHealth {
  tables: TableHealth[];
  /** Bronze rows per minute (every input, valid or not). */
  ingestRowsPerMin1: number;
  ingestRowsPerMin5: number;
  /** Share of inputs quarantined over the last 5 minutes (null when nothing was ingested). */
  quarantineRate5: number | null;
  /** Share of all inputs ever quarantined (from file stats). */
  quarantineRateAll: number | null;
  quarantineReasons: Row[];
  /** Bronze's committed positions, one row per source (a Kafka topic, the files). */
  watermarks: SourceWatermark[];
  /** Lag of the ingestion tables behind the Kafka topic (null without a broker). */
  consumerLag: TopicLag | null;
  /** Why there is no lag figure, plainly ("no broker configured", "broker unreachable"). */
  consumerLagNote: string | null;
  /** The error behind a "broker unreachable", for a tooltip. */
  consumerLagDetail?: string;
}

/** Everything but the charts: identical for every viewer. */
export interface DashboardState {
  lakehouse: string;
  /**
   * Newest event time in silver, but never after the wall clock (ms): the reference "now" of
   * every window; null when empty.
   */
  nowMs: number | null;
  empty: boolean;
  hint: string | null;
  buildings: string[];
  overview: Row[];
  /**
   * The alarm panels: incidents (gold/incidents), each with its alarm episodes as
   * `episodes_json` (sql/dashboard/incidents.sql).
   */
  alarms: {
    /** False until gold/incidents exists. */
    available: boolean;
    open: Row[];
    /** More than the 200 shown are open. */
    openTruncated: boolean;
    cleared: Row[];
  };
  silent: { source: "gold" | "silver" | "none"; rows: Row[] };
  health: PipelineHealth;
  /** The catalogue's types in order: the building table's columns and the charts. */
  types: TypeView[];
  /** Alarm limits per type (the catalogue's, read at start), for the chart bands. */
  thresholds: Record<string, Thresholds>;
  /** Query failures of this refresh (the other panels still show). */
  errors: string[];
}

export type { Thresholds, TypeView };

/** One chart: a line per floor over aligned time buckets. */
export interface SeriesChart {
  type: string;
  unit: string;
  floors: number[];
  /** Bucket starts, ms. */
  t: number[];
  /** values[i][j]: floor floors[i] at t[j] (null where the floor had no reading). */
  values: (number | null)[][];
}

/** Charts of one building and range. */
export interface SeriesState {
  building: string;
  range: SeriesRange;
  bucketMinutes: number;
  nowMs: number | null;
  charts: SeriesChart[];
}

/** A viewer's chart selection; the server validates both fields before they get here. */
export interface SeriesKey {
  building: string;
  range: SeriesRange;
}

/** Serialises a key the same way everywhere (the hub groups viewers by it). */
export function seriesKeyString(k: SeriesKey): string {
  return `${k.building}|${k.range}`;
}

const ALARMS_SHOWN = 200;

interface Tracked {
  name: string;
  path: string;
  view: string;
  version: number;
  snap: Snapshot;
}

interface Cached<T> {
  key: string;
  value: T;
  at: number;
}

/** Published output of a refresh: JSON text plus a sequence number that moves on change. */
export interface Published {
  json: string;
  seq: number;
}

/** The dashboard's reader of the lakehouse; one DuckDB connection, refreshes never overlap. */
export class DashboardModel {
  #tables = new Map<string, Tracked>();
  #cache = new Map<string, Cached<Row[]>>();
  #series = new Map<string, Cached<Published>>();
  #metrics = new CommitMetrics();
  #state: Published = { json: "", seq: 0 };
  #buildings = new Set<string>();
  #loggedErrors = new Set<string>();
  /** "Now" of the last refresh (newest event time in silver), null when empty. */
  #nowMs: number | null = null;
  /** Queries run since start (for the CPU figures and tests of the caching). */
  queriesRun = 0;

  private constructor(
    readonly lakehouse: string,
    readonly db: DuckDB,
    readonly sql: Record<DashboardQuery, string>,
    readonly thresholds: Record<string, Thresholds>,
    /** Chart order and units (a counter such as energy is drawn as a rate: series.sql). */
    readonly types: TypeView[],
    readonly lagSource?: LagSource,
  ) {}

  /**
   * Opens DuckDB (1 thread: a dashboard must not starve the pipeline) with the sensor
   * catalogue's tables (default the built-in catalogue). The delta extension is not loaded
   * (the views read the snapshot's files) and DuckDB's external file cache is off: it kept the
   * bytes of every small file the pipeline ever wrote (225 MiB after 2 minutes of the soak) up
   * to the memory limit, while the files a refresh reads again are in the OS page cache anyway.
   */
  static async open(
    lakehouse: string,
    lagSource?: LagSource,
    catalogue: SensorCatalogue = builtinCatalogue(),
  ): Promise<DashboardModel> {
    const sql = await loadDashboardSql();
    const db = await openDuckDB({
      threads: 1,
      memoryLimit: "512MB",
      delta: false,
      fileCache: false,
    });
    await enableLocation(db.conn, resolveLocation(lakehouse));
    try {
      const thresholds = await loadCatalogueView(db.conn, catalogue);
      return new DashboardModel(lakehouse, db, sql, thresholds, typeViews(catalogue), lagSource);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** The shared state of the last refresh. */
  get state(): Published {
    return this.#state;
  }

  /** The charts of `key` as of the last refresh that computed them. */
  series(key: SeriesKey): Published | undefined {
    return this.#series.get(seriesKeyString(key))?.value;
  }

  /** True when silver holds readings of `name` (the whitelist for the building parameter). */
  isBuilding(name: string): boolean {
    return this.#buildings.has(name);
  }

  /** The first building in display order, the default chart selection. */
  defaultBuilding(): string | undefined {
    return this.#buildings.values().next().value;
  }

  /**
   * Brings the state and the charts of `keys` up to date. Cheap when nothing changed:
   * directory listings only. `keys` is called once the buildings are known (so a viewer
   * without a choice can be given the first one). Returns whether the shared state changed.
   */
  async refresh(keys: () => Iterable<SeriesKey> = () => []): Promise<boolean> {
    const errors: string[] = [];
    await this.#scanTables(errors);
    const state = await this.#computeState(errors);
    // Keys are asked for after the state: the buildings they are checked against are fresh.
    for (const key of keys()) {
      if (this.#buildings.has(key.building)) await this.#computeSeries(key, state.nowMs, errors);
    }
    state.errors = errors;
    for (const e of errors) {
      if (!this.#loggedErrors.has(e)) {
        // Each distinct failure is logged once; the set is bounded for a long-running server.
        if (this.#loggedErrors.size > 200) this.#loggedErrors.clear();
        this.#loggedErrors.add(e);
        console.error(`dashboard: ${e}`);
      }
    }
    const json = JSON.stringify(state);
    if (json === this.#state.json) return false;
    this.#state = { json, seq: this.#state.seq + 1 };
    return true;
  }

  /** Releases DuckDB and the broker connection. */
  close(): void {
    this.db.close();
    this.lagSource?.close();
  }

  /**
   * Finds the tables (bronze, silver, quarantine, gold/*) and reloads those that moved. Each
   * view reads exactly the files of the snapshot loaded here (src/delta/scan.ts), so a cached
   * result is exactly the result of the version it is cached under.
   *
   * Not delta_scan: the delta extension (v1.5.5) keeps the kernel's scan metadata of every
   * scan (duckdb/duckdb-delta#279), so a view re-pinned to each new version of a busy table
   * leaked native memory in proportion to the table's file count — the dashboard grew
   * ~280 MiB/min in the soak (bench/results/soak-2026-12-07-2min.md) with its JS heap flat.
   */
  async #scanTables(errors: string[]): Promise<void> {
    let tables: LakehouseTable[];
    try {
      tables = await listLakehouseTables(this.lakehouse);
    } catch (err) {
      errors.push(`listing ${this.lakehouse}: ${message(err)}`);
      return;
    }
    for (const { view, path } of tables) {
      const name = view.startsWith("gold_") ? `gold/${view.slice(5)}` : view;
      try {
        const { commits, checkpoints } = await listRecentLog(path) ?? await listLog(path);
        const latest = Math.max(commits.at(-1) ?? -1, checkpoints.at(-1) ?? -1);
        const known = this.#tables.get(name);
        if (latest < 0 || (known && known.version === latest)) continue;
        const snap = await loadSnapshot(path, { tombstones: false });
        await this.db.conn.run(
          `CREATE OR REPLACE TEMP VIEW ${sqlIdent(view)} AS ${snapshotScanSql(snap)}`,
        );
        this.#tables.set(name, { name, path, view, version: snap.version, snap });
      } catch (err) {
        errors.push(`reading ${name}: ${message(err)}`);
      }
    }
  }

  /** Runs `query` unless its result for `key` is cached. */
  async #cached(
    slot: string,
    key: string,
    query: DashboardQuery,
    params: Record<string, DuckDBValue>,
    errors: string[],
  ): Promise<Row[]> {
    const hit = this.#cache.get(slot);
    if (hit && hit.key === key) return hit.value;
    try {
      this.queriesRun++;
      const rows = await runQuery(this.db.conn, this.sql[query], params);
      this.#cache.set(slot, { key, value: rows, at: Date.now() });
      return rows;
    } catch (err) {
      errors.push(`${query}.sql: ${message(err)}`);
      return hit?.value ?? [];
    }
  }

  async #computeState(errors: string[]): Promise<DashboardState> {
    const silver = this.#tables.get("silver");
    const newest = silver ? newestEventMs(silver.snap) : null;
    // Never ahead of the wall clock: a device clock far ahead must not become everyone's "now".
    const nowMs = newest === null ? null : Math.min(newest, Date.now());
    this.#nowMs = nowMs;
    this.#buildings = new Set(silver ? partitionValues(silver.snap, "building") : []);
    const health = await this.#health(errors);
    const state: DashboardState = {
      lakehouse: this.lakehouse,
      nowMs,
      empty: nowMs === null,
      hint: nowMs === null ? EMPTY_HINT : null,
      buildings: [...this.#buildings],
      overview: [],
      alarms: {
        available: this.#tables.has("gold/incidents"),
        open: [],
        openTruncated: false,
        cleared: [],
      },
      silent: { source: "none", rows: [] },
      health,
      types: this.types,
      thresholds: this.thresholds,
      errors: [],
    };
    if (!silver || nowMs === null) return state;
    const now = new Date(nowMs).toISOString();
    const sv = `${silver.version}|${nowMs}`;
    state.overview = await this.#cached("overview", sv, "overview", { now }, errors);

    const incidents = this.#tables.get("gold/incidents");
    if (incidents) {
      // The episodes come from gold/alarms: its version is part of the key too.
      const key = `${incidents.version}|${this.#tables.get("gold/alarms")?.version}|${nowMs}`;
      const rows = await this.#cached("incidents", key, "incidents", { now }, errors);
      const open = rows.filter((r) => r.is_open === true);
      state.alarms.open = open.slice(0, ALARMS_SHOWN);
      state.alarms.openTruncated = open.length > ALARMS_SHOWN;
      state.alarms.cleared = rows.filter((r) => r.is_open !== true);
    }
    const health_ = this.#tables.get("gold/device_health");
    if (health_) {
      state.silent = {
        source: "gold",
        rows: await this.#cached("silent", `g${health_.version}`, "silent_devices", {}, errors),
      };
    } else {
      state.silent = {
        source: "silver",
        rows: await this.#cached("silent", `s${sv}`, "silent_devices_silver", { now }, errors),
      };
    }
    return state;
  }

  async #health(errors: string[]): Promise<PipelineHealth> {
    const wall = Date.now();
    const tables: TableHealth[] = [];
    const silverVersion = this.#tables.get("silver")?.version;
    for (const t of this.#tables.values()) {
      const { rows, files } = snapshotRows(t.snap);
      let rates = { rowsPerMin1: 0, rowsPerMin5: 0 };
      try {
        rates = await this.#metrics.rates(t.snap, wall);
      } catch (err) {
        errors.push(`commit metrics of ${t.name}: ${message(err)}`);
      }
      const h: TableHealth = {
        name: t.name,
        version: t.version,
        commitMs: t.snap.commitTimestamp,
        rows,
        files,
        ...rates,
      };
      if (t.name.startsWith("gold/") && silverVersion !== undefined) {
        const v = t.snap.txnVersion(`gold-${t.name.slice(5)}-silver`);
        if (v !== undefined) h.silverVersion = v;
      }
      tables.push(h);
    }
    const bronze = tables.find((t) => t.name === "bronze");
    const quarantine = tables.find((t) => t.name === "quarantine");
    const q = this.#tables.get("quarantine");
    const reasons = q
      ? await this.#cached("quarantine_reasons", `${q.version}`, "quarantine_reasons", {}, errors)
      : [];
    const bronzeSnap = this.#tables.get("bronze")?.snap;
    return {
      tables,
      ingestRowsPerMin1: bronze?.rowsPerMin1 ?? 0,
      ingestRowsPerMin5: bronze?.rowsPerMin5 ?? 0,
      quarantineRate5: bronze && bronze.rowsPerMin5 > 0
        ? (quarantine?.rowsPerMin5 ?? 0) / bronze.rowsPerMin5
        : null,
      quarantineRateAll: bronze && bronze.rows > 0 ? (quarantine?.rows ?? 0) / bronze.rows : null,
      quarantineReasons: reasons,
      watermarks: bronzeSnap ? sourceWatermarks(bronzeSnap) : [],
      ...await this.#lag(),
    };
  }

  async #lag(): Promise<
    Pick<PipelineHealth, "consumerLag" | "consumerLagNote" | "consumerLagDetail">
  > {
    const src = this.lagSource;
    if (!src) {
      return {
        consumerLag: null,
        consumerLagNote: "no broker configured (start the dashboard with --brokers)",
      };
    }
    const snaps = INGEST_TABLES.flatMap((n) => {
      const t = this.#tables.get(n);
      return t ? [t.snap] : [];
    });
    try {
      const lag = await src.fetch((p) =>
        resumeFromSnapshots(snaps, partitionAppId(src.appName, src.topic, p))
      );
      return { consumerLag: lag, consumerLagNote: null };
    } catch (err) {
      return {
        consumerLag: null,
        consumerLagNote: "broker unreachable",
        consumerLagDetail: message(err),
      };
    }
  }

  async #computeSeries(key: SeriesKey, nowMs: number | null, errors: string[]): Promise<void> {
    const silver = this.#tables.get("silver");
    const id = seriesKeyString(key);
    const spec = SERIES_RANGES[key.range];
    const cacheKey = `${silver?.version}|${nowMs}`;
    const hit = this.#series.get(id);
    if (hit && (hit.key === cacheKey || Date.now() - hit.at < spec.minRecomputeMs)) return;
    let rows: Row[] = [];
    if (silver && nowMs !== null) {
      try {
        this.queriesRun++;
        rows = await runQuery(this.db.conn, this.sql.series, {
          now: new Date(nowMs).toISOString(),
          building: key.building,
          range_minutes: spec.rangeMinutes,
          bucket_minutes: spec.bucketMinutes,
        });
      } catch (err) {
        errors.push(`series.sql: ${message(err)}`);
        return;
      }
    }
    const series: SeriesState = {
      building: key.building,
      range: key.range,
      bucketMinutes: spec.bucketMinutes,
      nowMs,
      charts: this.types.map((t) => chartOf(rows, t.type, t.chartUnit)),
    };
    this.#series.set(id, {
      key: cacheKey,
      at: Date.now(),
      value: { json: JSON.stringify(series), seq: (hit?.value.seq ?? 0) + 1 },
    });
  }

  /**
   * One device's line (its drill-down) over a chart range, as of the last refresh's "now".
   * Not cached: asked for by a viewer that opened the device, when its charts move.
   */
  async deviceSeries(building: string, device: string, range: SeriesRange): Promise<string> {
    const silver = this.#tables.get("silver");
    const nowMs = this.#nowMs;
    const spec = SERIES_RANGES[range];
    let rows: Row[] = [];
    if (silver && nowMs !== null) {
      this.queriesRun++;
      rows = await runQuery(this.db.conn, this.sql.device_series, {
        now: new Date(nowMs).toISOString(),
        building,
        device,
        range_minutes: spec.rangeMinutes,
        bucket_minutes: spec.bucketMinutes,
      });
    }
    const type = rows.length ? String(rows[0].type) : null;
    return JSON.stringify({
      device,
      building,
      range,
      type,
      unit: this.types.find((t) => t.type === type)?.chartUnit ?? null,
      t: rows.map((r) => Number(r.t_ms)),
      values: rows.map((r) => (r.value === null ? null : Number(r.value))),
    });
  }

  /** Drops cached charts nobody watches any more. */
  forgetSeries(keep: Set<string>): void {
    for (const id of this.#series.keys()) if (!keep.has(id)) this.#series.delete(id);
  }
}

/** Pivots series rows of one type into uPlot's aligned arrays (x, then one array per floor). */
function chartOf(rows: Row[], type: string, unit: string): SeriesChart {
  const mine = rows.filter((r) => r.type === type);
  const t = [...new Set(mine.map((r) => Number(r.t_ms)))].sort((a, b) => a - b);
  const floors = [...new Set(mine.map((r) => Number(r.floor)))].sort((a, b) => a - b);
  const col = new Map(t.map((x, i) => [x, i]));
  const values = floors.map(() => new Array<number | null>(t.length).fill(null));
  const row = new Map(floors.map((f, i) => [f, i]));
  for (const r of mine) {
    values[row.get(Number(r.floor))!][col.get(Number(r.t_ms))!] = r.value === null
      ? null
      : Number(r.value);
  }
  return { type, unit, floors, t, values };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0] : String(err);
}
