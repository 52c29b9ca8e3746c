/**
 * `gold --watch`'s DuckDB, kept open between refreshes (issue 28: alarms within two seconds).
 * A refresh on its own opens an in-memory DuckDB, loads the macros (sql/gold/_macros.sql), the
 * catalogue's tables and the alarm settings, and closes it all again: 0.1–0.3 s of every cycle
 * on the alarm path, for the same result each time. A session does that set-up once; each refresh
 * borrows its connection and, when done, drops what it created (temp tables and views, the
 * refresh's ENUM types), so nothing a refresh leaves behind grows from cycle to cycle or reaches
 * the next refresh. What stays is the set-up, DuckDB's caches and what its allocator keeps of
 * the refreshes' memory — not bounded by the memory limit, hence `recycleAboveRssBytes`. A
 * refresh that fails closes the session: the next one starts from a fresh DuckDB, as a one-off
 * refresh would.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { type DuckDB, openDuckDB, sqlIdent } from "../duckdb/engine.ts";
import { enableLocation } from "../duckdb/s3.ts";
import { loadSql, runStatements } from "../query/sql_files.ts";
import type { SensorCatalogue } from "../reading/catalogue.ts";
import { loadCatalogueTables } from "../reading/catalogue_sql.ts";

/** How a refresh's DuckDB is opened. */
export interface GoldSessionOptions {
  /** DuckDB threads (default: DuckDB's choice, the core count). */
  threads?: number;
  /** DuckDB memory_limit, e.g. "512MB". */
  memoryLimit?: string;
  /** Where DuckDB spills beyond `memoryLimit` (default: DuckDB's `.tmp` in the working directory). */
  tempDirectory?: string;
  /**
   * Close the kept DuckDB after a refresh that leaves the process's resident set above this many
   * bytes (the next refresh opens a new one). A kept DuckDB holds on to what its refreshes
   * allocated: at fleet scale (5,200 devices, 5k msg/s) `gold --watch` grew to 840–914 MiB with it
   * against a 450 MiB peak opening one per refresh. Default: never.
   */
  recycleAboveRssBytes?: number;
}

/**
 * What every alarm rule and gold table reads besides silver: the catalogue's tables
 * (sql/catalogue/tables.sql: per-type limits, units, energy types) and the per-rule settings
 * (sql/alarms/thresholds.sql).
 */
export async function loadAlarmTables(
  conn: DuckDBConnection,
  catalogue: SensorCatalogue,
): Promise<void> {
  await loadCatalogueTables(conn, catalogue);
  await runStatements(conn, await loadSql("alarms/thresholds.sql"));
}

/** The temp objects of a connection, by kind (what a refresh may have added). */
async function tempObjects(conn: DuckDBConnection): Promise<Set<string>> {
  const rows = (await conn.runAndReadAll(
    `SELECT 'TABLE ' || table_name FROM duckdb_tables() WHERE temporary
     UNION ALL
     SELECT 'VIEW ' || view_name FROM duckdb_views() WHERE temporary AND NOT internal`,
  )).getRows();
  return new Set(rows.map((r) => String(r[0])));
}

/** A refresh's ENUM types (scope.ts keyedAsEnums): `gold_<column>_<n>`. */
async function refreshTypes(conn: DuckDBConnection): Promise<string[]> {
  const rows = (await conn.runAndReadAll(
    `SELECT type_name FROM duckdb_types()
     WHERE NOT internal AND regexp_matches(type_name, '^gold_(building|type|device)_[0-9]+$')`,
  )).getRows();
  return rows.map((r) => String(r[0]));
}

/** A set-up DuckDB connection for refreshes (see the module doc). */
export interface GoldConnection {
  conn: DuckDBConnection;
  /** Ends the refresh's use: drops what it created (kept session) or closes (one-off). */
  release(failed: boolean): Promise<void>;
}

/**
 * Opens a DuckDB set up for a refresh: silver's location enabled, the macros, the catalogue's
 * tables and the alarm settings loaded.
 */
async function openSetUp(
  silverPath: string,
  catalogue: SensorCatalogue,
  o: GoldSessionOptions,
): Promise<DuckDB> {
  const db = await openDuckDB({
    delta: false,
    threads: o.threads,
    memoryLimit: o.memoryLimit,
    tempDirectory: o.tempDirectory,
  });
  try {
    await enableLocation(db.conn, silverPath);
    await db.conn.run("SET preserve_insertion_order = false");
    await runStatements(db.conn, await loadSql("gold/_macros.sql"));
    await loadAlarmTables(db.conn, catalogue);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** A one-off refresh's DuckDB: opened set up, closed when released. */
export async function oneOffConnection(
  silverPath: string,
  catalogue: SensorCatalogue,
  o: GoldSessionOptions,
): Promise<GoldConnection> {
  const db = await openSetUp(silverPath, catalogue, o);
  return { conn: db.conn, release: () => Promise.resolve(db.close()) };
}

/** A DuckDB kept open and set up across refreshes (see the module doc). */
export class GoldSession {
  #db: DuckDB | null = null;
  /** The set-up's temp objects: kept when a refresh is released. */
  #baseline = new Set<string>();
  /** The catalogue and silver location the open DuckDB was set up with. */
  #setUp: { catalogue: SensorCatalogue; silverPath: string } | null = null;
  #busy = false;
  /** DuckDBs opened so far (1 while every refresh succeeds and memory stays low), for logs and tests. */
  opened = 0;

  constructor(readonly options: GoldSessionOptions = {}) {}

  /**
   * The session's connection for one refresh, set up for `catalogue` (reopened when it is
   * another one or silver's location changed). One refresh at a time.
   */
  async acquire(silverPath: string, catalogue: SensorCatalogue): Promise<GoldConnection> {
    if (this.#busy) throw new Error("GoldSession: one refresh at a time");
    const s = this.#setUp;
    if (this.#db && (s?.catalogue !== catalogue || s.silverPath !== silverPath)) this.close();
    if (!this.#db) {
      this.#db = await openSetUp(silverPath, catalogue, this.options);
      this.opened++;
      this.#setUp = { catalogue, silverPath };
      this.#baseline = await tempObjects(this.#db.conn);
    }
    this.#busy = true;
    const conn = this.#db.conn;
    return {
      conn,
      release: async (failed) => {
        this.#busy = false;
        if (failed) return this.close();
        try {
          await this.#dropAdded(conn);
        } catch (err) {
          this.close();
          throw err;
        }
        const limit = this.options.recycleAboveRssBytes;
        if (limit !== undefined && Deno.memoryUsage().rss > limit) this.close();
      },
    };
  }

  /** Drops the temp tables, views and ENUM types a refresh left (dependents first). */
  async #dropAdded(conn: DuckDBConnection): Promise<void> {
    for (const obj of await tempObjects(conn)) {
      if (this.#baseline.has(obj)) continue;
      const [kind, name] = [obj.slice(0, obj.indexOf(" ")), obj.slice(obj.indexOf(" ") + 1)];
      if (kind === "VIEW") await conn.run(`DROP VIEW IF EXISTS temp.${sqlIdent(name)}`);
    }
    for (const obj of await tempObjects(conn)) {
      if (this.#baseline.has(obj)) continue;
      const name = obj.slice(obj.indexOf(" ") + 1);
      await conn.run(`DROP TABLE IF EXISTS temp.${sqlIdent(name)}`);
    }
    for (const name of await refreshTypes(conn)) {
      await conn.run(`DROP TYPE IF EXISTS ${sqlIdent(name)}`);
    }
  }

  /** Closes DuckDB (the next acquire opens a new one); safe to call twice. */
  close(): void {
    this.#db?.close();
    this.#db = null;
    this.#setUp = null;
    this.#busy = false;
  }
}
