/**
 * Letting a DuckDB connection read and write an `s3://` lakehouse: the `httpfs` extension
 * (cached like `delta`, see extension.ts) and a secret built from the same AWS_* variables our
 * own S3 client reads (src/storage/s3.ts), path-style URLs as that client uses.
 *
 * DuckDB itself never commits: it cannot send a conditional PUT. It reads tables
 * (`delta_scan`, checkpoints, commits through read_json) and writes data files and checkpoint
 * Parquet under unique names; the `_delta_log` entries come from the storage seam.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { isS3 } from "../storage/location.ts";
import { s3ConfigFromEnv, StorageError } from "../storage/s3.ts";
import { sqlString } from "./engine.ts";
import { extensionPath } from "./extension.ts";

const ready = new WeakSet<DuckDBConnection>();

/**
 * Prepares `conn` for `location`: nothing for a local path; for `s3://`, loads httpfs and
 * creates the S3 secret (once per connection).
 */
export async function enableLocation(conn: DuckDBConnection, location: string): Promise<void> {
  if (!isS3(location) || ready.has(conn)) return;
  const config = s3ConfigFromEnv();
  try {
    await conn.run("LOAD httpfs");
  } catch (err) {
    throw new StorageError(
      `DuckDB's httpfs extension (needed for ${location}) is not installed at ` +
        `${await extensionPath("httpfs")}: run \`deno task setup\` once. (${
          (err as Error).message.split("\n")[0]
        })`,
    );
  }
  // DuckDB writes and reads data files itself: give its HTTP client about the same patience as
  // ours (S3_BACKOFF, 20 s), not its default ~2 s, so a restarting server is ridden out by the
  // data files as by the commits (200 ms × 2.2^k over 6 retries: ~19 s).
  await conn.run("SET http_retries = 6");
  await conn.run("SET http_retry_wait_ms = 200");
  await conn.run("SET http_retry_backoff = 2.2");
  const url = new URL(config.endpoint);
  const c = config.credentials;
  const options = [
    "TYPE s3",
    `KEY_ID ${sqlString(c.accessKeyId)}`,
    `SECRET ${sqlString(c.secretAccessKey)}`,
    ...(c.sessionToken ? [`SESSION_TOKEN ${sqlString(c.sessionToken)}`] : []),
    `REGION ${sqlString(config.region)}`,
    `ENDPOINT ${sqlString(url.host)}`,
    "URL_STYLE 'path'",
    `USE_SSL ${url.protocol === "https:"}`,
  ];
  await conn.run(`CREATE OR REPLACE SECRET lakehouse_s3 (${options.join(", ")})`);
  ready.add(conn);
}
