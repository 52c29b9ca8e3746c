/**
 * Opening DuckDB with the `delta` extension loaded.
 *
 * Every reader of the lakehouse (gold, query, dashboard, tests) goes through here so that the
 * extension is loaded the same way everywhere and the lifetime of instance and connection is
 * explicit: whoever opens closes.
 */
import {
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  INTEGER,
  StatementType,
  VARCHAR,
} from "@duckdb/node-api";
import { readEnv } from "../config.ts";
import { isS3 } from "../storage/location.ts";
import { s3InUse } from "../storage/storage.ts";
import { enableLocation } from "./s3.ts";
import { deltaExtensionPath, extensionDirectory } from "./extension.ts";

export interface DuckDB {
  instance: DuckDBInstance;
  conn: DuckDBConnection;
  /**
   * Another connection to the same database, set up like `conn` (closed by close()): for work
   * that must not wait for a query running on `conn`.
   */
  connect(): Promise<DuckDBConnection>;
  /** Closes the connections and the instance; safe to call twice. */
  close(): void;
}

export interface OpenOptions {
  /** Load the delta extension (default true). Writers that only need Parquet can skip it. */
  delta?: boolean;
  /** DuckDB threads (default: DuckDB's own choice, the core count). */
  threads?: number;
  /** DuckDB memory_limit, e.g. "512MB". */
  memoryLimit?: string;
  /**
   * Where DuckDB spills what does not fit in `memoryLimit` (its temp_directory). Without it an
   * in-memory DuckDB spills to `.tmp` in the working directory, which a long-running task
   * would leave behind in the project or a service's working directory.
   */
  tempDirectory?: string;
  /**
   * Keep the Parquet bytes read in DuckDB's external file cache (default true). Readers that
   * scan the same files again (dashboard, gold) gain from it; a writer reading each file once
   * (compaction, dedup seeding) would only fill its memory limit with them.
   */
  fileCache?: boolean;
  /**
   * Sandbox for SQL typed by a user: DuckDB may then open files only under these directories
   * (absolute paths, each ending in "/"), loads no further extension and cannot change its
   * settings back. DuckDB's native code does not see Deno's permissions, so this is what keeps
   * `query` from reading or writing elsewhere. Writes inside them are refused statement by
   * statement ({@link assertReadOnlyStatement}).
   */
  readOnlyUnder?: string[];
}

/** Raised when the delta extension is not cached yet; says which command fetches it. */
export class DeltaExtensionMissingError extends Error {
  constructor(path: string) {
    super(
      `DuckDB's delta extension is not installed (expected at ${path}). ` +
        "Run `deno task setup` once to fetch it.",
    );
    this.name = "DeltaExtensionMissingError";
  }
}

/** Opens an in-memory DuckDB; loads `delta` from the project cache unless told not to. */
export async function openDuckDB(opts: OpenOptions = {}): Promise<DuckDB> {
  const config: Record<string, string> = {
    extension_directory: extensionDirectory(),
    autoinstall_known_extensions: "false",
  };
  // Env twins let an operator cap DuckDB for any task without a flag per task.
  const threads = opts.threads ??
    (readEnv("DUCKDB_THREADS") ? Number(readEnv("DUCKDB_THREADS")) : undefined);
  const memoryLimit = readEnv("DUCKDB_MEMORY_LIMIT") ?? opts.memoryLimit;
  if (threads) config.threads = String(threads);
  if (memoryLimit) config.memory_limit = memoryLimit;
  if (opts.tempDirectory) config.temp_directory = opts.tempDirectory;
  if (opts.fileCache === false) config.enable_external_file_cache = "false";
  const instance = await DuckDBInstance.create(":memory:", config);
  const conns: DuckDBConnection[] = [];
  const connect = async () => {
    const c = await instance.connect();
    conns.push(c);
    // Event time is UTC everywhere; TIMESTAMPTZ values print and truncate in UTC.
    await c.run("SET TimeZone = 'UTC'");
    // A process working on s3:// tables reads their files through any connection (the sandboxed
    // query connection is set up below, before its configuration is locked).
    if (s3InUse() && !opts.readOnlyUnder) await enableLocation(c, "s3://");
    return c;
  };
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const c of conns) c.closeSync();
    instance.closeSync();
  };
  const conn = await connect();
  if (opts.delta !== false) {
    try {
      await conn.run("LOAD delta");
    } catch (err) {
      close();
      const path = await deltaExtensionPath();
      if (/not found|No such file|Failed to open|does not exist/i.test((err as Error).message)) {
        throw new DeltaExtensionMissingError(path);
      }
      throw err;
    }
  }
  if (opts.readOnlyUnder) {
    try {
      await conn.run(
        `SET allowed_directories = [${opts.readOnlyUnder.map(sqlString).join(", ")}]`,
      );
      await conn.run("SET allow_persistent_secrets = false");
      // S3 access (httpfs, the secret) is set up before the configuration is locked.
      for (const dir of opts.readOnlyUnder) await enableLocation(conn, dir);
      if (opts.readOnlyUnder.some(isS3)) {
        // allowed_directories does not reach httpfs, and without external access DuckDB reads
        // no s3:// file: turn off the local and plain-HTTP filesystems instead.
        await conn.run("SET disabled_filesystems = 'LocalFileSystem,HTTPFileSystem'");
      } else {
        await conn.run("SET enable_external_access = false");
      }
      await conn.run("SET lock_configuration = true");
    } catch (err) {
      close();
      throw err;
    }
  }
  return { instance, conn, connect, close };
}

/** Statement kinds that write files or change what DuckDB may reach; refused by a read-only query. */
const WRITING_STATEMENTS = new Map<StatementType, string>([
  [StatementType.COPY, "COPY"],
  [StatementType.EXPORT, "EXPORT DATABASE"],
  [StatementType.COPY_DATABASE, "COPY DATABASE"],
  [StatementType.ATTACH, "ATTACH"],
  [StatementType.DETACH, "DETACH"],
  [StatementType.LOAD, "LOAD/INSTALL"],
  [StatementType.EXTENSION, "an extension statement"],
  [StatementType.UPDATE_EXTENSIONS, "UPDATE EXTENSIONS"],
]);

/**
 * Throws when a prepared statement could write a file (COPY … TO, EXPORT, ATTACH, also under
 * EXPLAIN ANALYZE, which runs its statement). `sql` is the text it came from.
 */
export function assertReadOnlyStatement(type: StatementType, sql: string): void {
  const what = WRITING_STATEMENTS.get(type) ??
    (type === StatementType.EXPLAIN &&
        /\bANALY[SZ]E\s+(COPY|EXPORT|ATTACH|INSTALL|LOAD)\b/i.test(sql)
      ? "EXPLAIN ANALYZE of a writing statement"
      : undefined);
  if (what) throw new ReadOnlyError(`query is read-only: ${what} is not allowed`);
}

/** A statement refused by {@link assertReadOnlyStatement}. */
export class ReadOnlyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReadOnlyError";
  }
}

/** Quotes a string as a SQL literal. Paths and names reach SQL only through this. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Quotes an identifier. */
export function sqlIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** DuckDB's vector size: the most rows a data chunk holds (a larger count is refused). */
export const VECTOR_SIZE = 2048;

/**
 * Appends (integer, string) pairs to a two-column table (INTEGER, VARCHAR) in data chunks: one
 * native call per string, where {@link appendRows} makes one per cell and row.
 */
export async function appendKeyedStrings(
  conn: DuckDBConnection,
  table: string,
  rows: readonly (readonly [number, string])[],
): Promise<void> {
  if (rows.length === 0) return;
  const appender = await conn.createAppender(table);
  try {
    for (let start = 0; start < rows.length; start += VECTOR_SIZE) {
      const n = Math.min(VECTOR_SIZE, rows.length - start);
      const chunk = DuckDBDataChunk.create([INTEGER, VARCHAR], n);
      const keys = chunk.getColumnVector(0);
      const strings = chunk.getColumnVector(1);
      for (let i = 0; i < n; i++) {
        keys.setItem(i, rows[start + i][0]);
        strings.setItem(i, rows[start + i][1]);
      }
      keys.flush();
      strings.flush();
      appender.appendDataChunk(chunk);
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/** A cell of {@link appendRows}: numbers go to INTEGER columns, bigints to BIGINT. */
export type AppendCell = string | number | bigint | null;

/** Appends a few rows to `table` (small side tables; bulk data goes in data chunks). */
export async function appendRows(
  conn: DuckDBConnection,
  table: string,
  rows: Iterable<readonly AppendCell[]>,
): Promise<void> {
  const appender = await conn.createAppender(table);
  try {
    for (const row of rows) {
      for (const v of row) {
        if (v === null) appender.appendNull();
        else if (typeof v === "string") appender.appendVarchar(v);
        else if (typeof v === "bigint") appender.appendBigInt(v);
        else appender.appendInteger(v);
      }
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}
