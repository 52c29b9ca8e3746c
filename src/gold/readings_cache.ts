/**
 * `gold --watch`'s cache of silver's recent rows for the alarm refresh (issue 28: a cycle whose
 * cost follows the new rows). Every alarm refresh reads silver from two hours and more before
 * its first new reading (alarms.ts); at 1 reading/s per device that is millions of rows in
 * thousands of small files between compactions, and opening and decoding them was most of a
 * cycle. The watcher instead keeps those rows (SCOPE_COLUMNS) in a local DuckDB database file
 * and adds only the rows of the silver files committed since — one read of the new files.
 *
 * Exactness: the cache holds exactly silver's rows with timestamp >= `from_ms` at silver version
 * `silver_version` (table gold_cache.meta). It is topped up from silver's change since that
 * version (files added with dataChange), and rebuilt from silver when rows were removed, the
 * change is unknown, or a refresh needs rows from before `from_ms` (late data). Rows long before
 * what refreshes read are dropped. A refresh that fails after topping up leaves a cache that is
 * still exact for its recorded version. The file lives in a temporary directory of the process
 * and is never shared.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { mayHoldTime } from "../delta/actions.ts";
import type { Snapshot } from "../delta/snapshot.ts";
import { snapshotScanSql } from "../delta/scan.ts";
import { sqlString } from "../duckdb/engine.ts";
import type { SilverChange } from "./changes.ts";
import { HOUR_MS, tsLiteral } from "./intervals.ts";
import { SCOPE_COLUMNS } from "./scope.ts";

/** How far before the requested start a rebuild reaches, so a little late data stays cached. */
const REBUILD_SLACK_MS = HOUR_MS / 2;
/** Rows this long before the requested start are dropped (then `from_ms` moves up). */
const EVICT_AFTER_MS = HOUR_MS;

/** The cache's state as gold_cache.meta records it. */
interface CacheState {
  version: number;
  fromMs: number;
}

/** What `rowsFrom` did, for logs and tests. */
export type CacheUse = "hit" | "topped-up" | "rebuilt";

export class ReadingsCache {
  /** What the last rowsFrom did. */
  lastUse: CacheUse | null = null;
  constructor(
    /** The DuckDB database file (created on first use). */
    readonly file: string,
  ) {}

  /**
   * Silver's rows (SCOPE_COLUMNS) with timestamp >= `fromMs` at `silver`'s version, as a
   * relation valid on `conn` until the connection closes (the cache is attached to it).
   * `change` gives silver's change since a version (Refresh.change).
   */
  async rowsFrom(
    conn: DuckDBConnection,
    silver: Snapshot,
    fromMs: number,
    change: (since: number) => Promise<SilverChange>,
  ): Promise<string> {
    if (!Number.isFinite(fromMs)) throw new RangeError("ReadingsCache: a finite start is needed");
    await conn.run(`ATTACH IF NOT EXISTS ${sqlString(this.file)} AS gold_cache`);
    await conn.run(
      "CREATE TABLE IF NOT EXISTS gold_cache.meta (silver_version BIGINT, from_ms DOUBLE)",
    );
    // One transaction: a failure part-way leaves the cache as it was, exact for its version.
    await conn.run("BEGIN TRANSACTION");
    try {
      this.lastUse = await this.#update(conn, silver, fromMs, change);
      await conn.run("COMMIT");
    } catch (err) {
      await conn.run("ROLLBACK").catch(() => {});
      throw err;
    }
    return `(SELECT ${SCOPE_COLUMNS} FROM gold_cache.readings WHERE timestamp >= ${
      tsLiteral(fromMs)
    })`;
  }

  async #update(
    conn: DuckDBConnection,
    silver: Snapshot,
    fromMs: number,
    change: (since: number) => Promise<SilverChange>,
  ): Promise<CacheUse> {
    const state = await this.#state(conn);
    let use: CacheUse = "hit";
    const diff = state && state.version <= silver.version && state.fromMs <= fromMs
      ? state.version === silver.version ? null : await change(state.version)
      : undefined;
    if (state === null || diff === undefined || diff?.ranges === null || diff?.removedData) {
      await this.#rebuild(conn, silver, fromMs - REBUILD_SLACK_MS);
      use = "rebuilt";
    } else {
      if (diff && diff.added.length > 0) {
        await conn.run(
          `INSERT INTO gold_cache.readings SELECT ${SCOPE_COLUMNS}
           FROM (${snapshotScanSql(silver, diff.added)})
           WHERE timestamp >= ${tsLiteral(state.fromMs)}`,
        );
        use = "topped-up";
      }
      let from = state.fromMs;
      if (fromMs - from > EVICT_AFTER_MS) {
        from = fromMs - REBUILD_SLACK_MS;
        await conn.run(`DELETE FROM gold_cache.readings WHERE timestamp < ${tsLiteral(from)}`);
      }
      await this.#record(conn, silver.version, from);
    }
    return use;
  }

  async #state(conn: DuckDBConnection): Promise<CacheState | null> {
    const row = (await conn.runAndReadAll(
      "SELECT silver_version, from_ms FROM gold_cache.meta",
    )).getRows()[0];
    return row ? { version: Number(row[0]), fromMs: Number(row[1]) } : null;
  }

  async #record(conn: DuckDBConnection, version: number, fromMs: number): Promise<void> {
    await conn.run("DELETE FROM gold_cache.meta");
    await conn.run(`INSERT INTO gold_cache.meta VALUES (${version}, ${fromMs})`);
  }

  async #rebuild(conn: DuckDBConnection, silver: Snapshot, fromMs: number): Promise<void> {
    const files = silver.files.filter((f) => mayHoldTime(f, fromMs));
    await conn.run(
      `CREATE OR REPLACE TABLE gold_cache.readings AS SELECT ${SCOPE_COLUMNS}
       FROM (${snapshotScanSql(silver, files)}) WHERE timestamp >= ${tsLiteral(fromMs)}`,
    );
    await this.#record(conn, silver.version, fromMs);
  }
}
