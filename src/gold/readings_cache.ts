/**
 * `gold --watch`'s cache of silver's recent rows for the alarm refresh (issue 28: a cycle whose
 * cost follows the new rows). Every alarm refresh reads silver from two hours and more before
 * its first new reading (alarms.ts); at 1 reading/s per device that is millions of rows in
 * thousands of small files between compactions, and opening and decoding them was most of a
 * cycle. The watcher instead keeps those rows (SCOPE_COLUMNS) in a local DuckDB database file
 * and reads only the silver files it has not read yet.
 *
 * Exactness: the cache holds exactly the rows with timestamp >= `fromMs` of the silver files it
 * lists, which are the files of the last snapshot it was synced with that may hold such rows.
 * Syncing with a newer snapshot adds the rows of its files not listed yet; a listed file gone
 * from the snapshot (compacted, or rows removed) makes its partition (building, type) be reloaded
 * from the snapshot's files, so a compaction's output is never counted twice. A refresh needing
 * rows from before `fromMs` (late data) rebuilds it; rows long before what refreshes read are
 * dropped. Every sync is one DuckDB transaction, and the in-memory file list changes only once
 * it committed. The file lives in a temporary directory of the process and is never shared.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { type AddAction, mayHoldTime } from "../delta/actions.ts";
import { decodeAddPath } from "../delta/partition.ts";
import type { Snapshot } from "../delta/snapshot.ts";
import { snapshotScanSql } from "../delta/scan.ts";
import { sqlString } from "../duckdb/engine.ts";
import { HOUR_MS, tsLiteral } from "./intervals.ts";
import { SCOPE_COLUMNS } from "./scope.ts";

/** How far before the requested start a rebuild reaches, so a little late data stays cached. */
const REBUILD_SLACK_MS = HOUR_MS / 2;
/** Rows this long before the requested start are dropped (then `fromMs` moves up). */
const EVICT_AFTER_MS = HOUR_MS;

/** What the last sync did, for logs and tests. */
export type CacheUse = "hit" | "topped-up" | "reloaded" | "rebuilt";

/** A partition's key: building and type. */
function partitionOf(f: AddAction): string {
  return JSON.stringify([f.partitionValues.building ?? null, f.partitionValues.type ?? null]);
}

export class ReadingsCache {
  /** What the last rowsFrom did. */
  lastUse: CacheUse | null = null;
  /** Start of the cached rows (ms); null before the first sync. */
  #fromMs: number | null = null;
  /** The connection it was last synced on, and the silver version it was synced with. */
  #synced: { conn: DuckDBConnection; version: number } | null = null;
  /** Listed files (decoded paths) by partition key. */
  #files = new Map<string, Set<string>>();

  constructor(
    /** The DuckDB database file (created on first use). */
    readonly file: string,
  ) {}

  /**
   * Silver's rows (SCOPE_COLUMNS) with timestamp >= `fromMs` in `silver`'s snapshot, as a
   * relation valid on `conn` until it closes (the cache is attached to it).
   */
  async rowsFrom(conn: DuckDBConnection, silver: Snapshot, fromMs: number): Promise<string> {
    if (!Number.isFinite(fromMs)) throw new RangeError("ReadingsCache: a finite start is needed");
    await conn.run(`ATTACH IF NOT EXISTS ${sqlString(this.file)} AS gold_cache`);
    const rebuild = this.#fromMs === null || fromMs < this.#fromMs;
    const from = rebuild
      ? fromMs - REBUILD_SLACK_MS
      : fromMs - this.#fromMs! > EVICT_AFTER_MS
      ? fromMs - REBUILD_SLACK_MS
      : this.#fromMs!;
    const wanted = silver.files.filter((f) => mayHoldTime(f, from));
    const listed = rebuild ? new Map<string, Set<string>>() : this.#files;
    const present = new Set(silver.files.map((f) => decodeAddPath(f.path)));
    // Partitions where a listed file is gone from the snapshot are reloaded whole.
    const reload = new Set(
      [...listed].filter(([, paths]) => [...paths].some((p) => !present.has(p))).map(([k]) => k),
    );
    const isListed = (f: AddAction) => listed.get(partitionOf(f))?.has(decodeAddPath(f.path));
    const fresh = wanted.filter((f) => reload.has(partitionOf(f)) || !isListed(f));
    await conn.run("BEGIN TRANSACTION");
    try {
      if (rebuild) {
        await conn.run(
          `CREATE OR REPLACE TABLE gold_cache.readings AS SELECT ${SCOPE_COLUMNS}
           FROM (${snapshotScanSql(silver, [])})`,
        );
        await conn.run("CREATE OR REPLACE TABLE gold_cache.devices (device_id VARCHAR)");
      }
      for (const key of reload) {
        const [building, type] = JSON.parse(key);
        await conn.run(
          `DELETE FROM gold_cache.readings WHERE building IS NOT DISTINCT FROM ${
            building === null ? "NULL" : sqlString(building)
          } AND type IS NOT DISTINCT FROM ${type === null ? "NULL" : sqlString(type)}`,
        );
      }
      if (from !== this.#fromMs && !rebuild) {
        await conn.run(`DELETE FROM gold_cache.readings WHERE timestamp < ${tsLiteral(from)}`);
      }
      if (fresh.length > 0) {
        // The new files are read once, into a scratch table of the cache's own database (a
        // transaction writes to one database), for both the rows and the device ids.
        await conn.run(
          `CREATE OR REPLACE TABLE gold_cache.fresh AS SELECT ${SCOPE_COLUMNS}
           FROM (${snapshotScanSql(silver, fresh)})`,
        );
        await conn.run(
          `INSERT INTO gold_cache.readings SELECT ${SCOPE_COLUMNS}
           FROM gold_cache.fresh WHERE timestamp >= ${tsLiteral(from)}`,
        );
        await conn.run(
          `INSERT INTO gold_cache.devices SELECT DISTINCT device_id FROM gold_cache.fresh
           WHERE device_id IS NOT NULL
             AND device_id NOT IN (SELECT device_id FROM gold_cache.devices)`,
        );
        await conn.run("DROP TABLE gold_cache.fresh");
      }
      await conn.run("COMMIT");
    } catch (err) {
      await conn.run("ROLLBACK").catch(() => {});
      throw err;
    }
    const files = new Map<string, Set<string>>();
    for (const f of wanted) {
      const key = partitionOf(f);
      if (!files.has(key)) files.set(key, new Set());
      files.get(key)!.add(decodeAddPath(f.path));
    }
    this.#files = files;
    this.#fromMs = from;
    this.#synced = { conn, version: silver.version };
    this.lastUse = rebuild
      ? "rebuilt"
      : reload.size > 0
      ? "reloaded"
      : fresh.length > 0
      ? "topped-up"
      : "hit";
    return `(SELECT ${SCOPE_COLUMNS} FROM gold_cache.readings WHERE timestamp >= ${
      tsLiteral(fromMs)
    })`;
  }

  /**
   * Silver's rows with timestamp >= `fromMs` at silver `version`, from the cache, when it was
   * synced with that version on `conn` (the same refresh) and holds them all; else null.
   */
  rowsSince(conn: DuckDBConnection, version: number, fromMs: number): string | null {
    const s = this.#synced;
    if (s === null || s.conn !== conn || s.version !== version) return null;
    if (this.#fromMs === null || fromMs < this.#fromMs) return null;
    return `(SELECT ${SCOPE_COLUMNS} FROM gold_cache.readings WHERE timestamp >= ${
      tsLiteral(fromMs)
    })`;
  }

  /** Every device id the cache has held (a superset of its rows'), as a relation. */
  devices(): string {
    return "gold_cache.devices";
  }
}
