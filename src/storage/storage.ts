/**
 * The storage seam: the few operations a Delta table needs from where it lives.
 *
 * ```
 *   delta kernel · pipeline writer · gold · readers
 *                      │  locations are strings: /abs/path or s3://bucket/key
 *             storageFor(location)
 *             ┌────────┴─────────┐
 *        LocalStorage        S3Storage (fetch + SigV4)
 *   temp file + hard link   PUT If-None-Match: *
 * ```
 * The one operation the Delta protocol hinges on is putIfAbsent: exactly one writer creates a
 * commit's `_delta_log/<version>.json`. Everything else (get, head, list, delete, overwrite)
 * is ordinary. DuckDB reads and writes data files itself at the same locations (its httpfs
 * extension for `s3://`, see src/duckdb/s3.ts).
 */
import { isS3 } from "./location.ts";
import { LocalStorage } from "./local.ts";
import { s3ConfigFromEnv, S3Storage } from "./s3.ts";

/** An object (file) under a listed prefix. */
export interface ObjectInfo {
  location: string;
  /** Bytes; always from head, from list only with `details` (or where it comes free). */
  size?: number;
  /** Last modification, ms since epoch; as `size`. */
  mtime?: number;
}

/** Body of a put. */
export type Body = Uint8Array | string;

/** What every storage provides; locations are absolute (see location.ts). */
export interface Storage {
  readonly kind: "local" | "s3";
  /**
   * Creates `location` with `body` unless it exists. True when this call created it; false
   * when it already existed (another writer won). The object appears complete or not at all,
   * and is durable when this returns true.
   */
  putIfAbsent(location: string, body: Body): Promise<boolean>;
  /** putIfAbsent with the body from a local file (locally: linked, never copied). */
  putFileIfAbsent(location: string, localFile: string): Promise<boolean>;
  /**
   * A local path where a file meant for `location` can be prepared (by DuckDB, say) before
   * putFileIfAbsent publishes it: beside it locally (a link then, not a copy), in the OS temp
   * directory for S3. The caller removes it.
   */
  scratchFile(location: string): Promise<string>;
  /** Creates or atomically replaces `location`. */
  put(location: string, body: Body): Promise<void>;
  /** The object's bytes; undefined when it does not exist. */
  get(location: string): Promise<Uint8Array | undefined>;
  /** Size and mtime; undefined when it does not exist. */
  head(location: string): Promise<ObjectInfo | undefined>;
  /**
   * Objects directly under the directory `location` (recursive: at any depth), in ascending
   * order, skipping those up to `startAfter` (a full location). `details` asks for size and
   * mtime (a stat per file locally: a 300,000-entry `_delta_log` is listed by name only).
   */
  list(
    location: string,
    opts?: { recursive?: boolean; startAfter?: string; details?: boolean },
  ): Promise<ObjectInfo[]>;
  /** Names of the directories (S3: common prefixes) directly under `location`. */
  listDirectories(location: string): Promise<string[]>;
  /** Deletes `location`; true when it existed. */
  delete(location: string): Promise<boolean>;
}

let local: Storage | undefined;
let s3: Storage | undefined;

/**
 * The storage behind a location (resolved with resolveLocation). The S3 client is built from
 * the AWS_* variables on first use, so tasks on a local lakehouse never read them.
 */
export function storageFor(location: string): Storage {
  if (isS3(location)) return s3 ??= new S3Storage(s3ConfigFromEnv());
  return local ??= new LocalStorage();
}

/**
 * True once this process has talked to an `s3://` location: DuckDB connections opened from then
 * on are given S3 access (engine.ts), so every reader of those tables can read their files.
 */
export function s3InUse(): boolean {
  return s3 !== undefined;
}

/** Forgets the S3 client built from the environment (tests changing AWS_* variables). */
export function resetStorageCache(): void {
  s3 = undefined;
}
