/**
 * Writing checkpoints: the whole table state at one version in a Parquet file, so readers
 * replay at most `delta.checkpointInterval` JSON commits.
 *
 * DuckDB computes the state from the log (the previous checkpoint and the JSON commits after it)
 * and writes it to Parquet in a scratch file, published put-if-absent as
 * `<version>.checkpoint.parquet` (a hard link locally, a conditional PUT on S3), so a reader
 * never sees a partial checkpoint and two writers checkpointing the same version do not
 * clobber each other. `_last_checkpoint` is then advanced (never moved backwards).
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { openDuckDB, sqlIdent, sqlString } from "../duckdb/engine.ts";
import { enableLocation } from "../duckdb/s3.ts";
import { isS3, resolveLocation } from "../storage/location.ts";
import { storageFor } from "../storage/storage.ts";
import { deltaLog } from "./diagnostics.ts";
import { CHECKPOINT_COLUMNS } from "./checkpoint_format.ts";
import { CorruptLogError } from "./errors.ts";
import {
  checkpointPath,
  commitPath,
  logDir,
  type LogListing,
  readLastCheckpoint,
  withLogListing,
  writeLastCheckpoint,
} from "./log.ts";
import { cleanupExpiredLog, DEFAULT_LOG_RETENTION_MS } from "./log_cleanup.ts";
import { loadSnapshot, type Snapshot } from "./snapshot.ts";

/** Default commits between checkpoints (Delta's convention). */
export const DEFAULT_CHECKPOINT_INTERVAL = 10;

/** Default tombstone retention kept in checkpoints (delta.deletedFileRetentionDuration). */
export const DEFAULT_TOMBSTONE_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** Checkpoint interval of a table: delta.checkpointInterval when a positive integer, else 10. */
export function checkpointInterval(properties: Record<string, string>): number {
  const n = Number(properties["delta.checkpointInterval"]);
  return Number.isSafeInteger(n) && n > 0 ? n : DEFAULT_CHECKPOINT_INTERVAL;
}

const UNIT_MS: Record<string, number> = {
  millisecond: 1,
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 604_800_000,
};

/** Parses Delta's "interval 7 days" durations; undefined for anything else. */
export function parseIntervalMs(value: string | undefined): number | undefined {
  const m = /^\s*interval\s+(\d+)\s+([a-z]+?)s?\s*$/i.exec(value ?? "");
  if (!m) return undefined;
  const unit = UNIT_MS[m[2].toLowerCase()];
  return unit === undefined ? undefined : Number(m[1]) * unit;
}

/**
 * How long commits are kept (delta.logRetentionDuration, default 30 days), or null when
 * delta.enableExpiredLogCleanup is "false".
 */
export function logRetentionMs(properties: Record<string, string>): number | null {
  if (String(properties["delta.enableExpiredLogCleanup"]).toLowerCase() === "false") return null;
  return parseIntervalMs(properties["delta.logRetentionDuration"]) ?? DEFAULT_LOG_RETENTION_MS;
}

/** Result of writeCheckpoint. */
export interface CheckpointResult {
  version: number;
  /** Rows (actions) in the checkpoint. */
  size: number;
  sizeInBytes: number;
  numOfAddFiles: number;
  /** False when a checkpoint of this version already existed (nothing written). */
  written: boolean;
}

/**
 * Writes the checkpoint of `opts.version` (default: the table's latest version).
 *
 * The state is computed by DuckDB from the log itself — the newest earlier checkpoint plus the
 * JSON commits after it, the newest action per file path winning — and never held in JavaScript:
 * at sub-second commit intervals compaction leaves tens of tombstones a second that checkpoints
 * must keep for the table's retention, and a few hundred thousand of them as objects exhausted
 * the consumer's V8 heap.
 */
export async function writeCheckpoint(
  path: string,
  opts: { version?: number } = {},
): Promise<CheckpointResult> {
  const root = resolveLocation(path);
  return await withLogListing(
    root,
    { hint: true, upTo: opts.version },
    (listing) => checkpointFrom(root, listing, opts.version),
  );
}

async function checkpointFrom(
  root: string,
  listing: LogListing,
  wanted: number | undefined,
): Promise<CheckpointResult> {
  const version = wanted ??
    Math.max(listing.commits.at(-1) ?? -1, listing.checkpoints.at(-1) ?? -1);
  if (version < 0) throw new CorruptLogError(`${root} has no commits to checkpoint`);
  // Newest usable checkpoint at or before `version`; an unreadable one falls back further.
  const bases: (number | undefined)[] = [
    ...listing.checkpoints.filter((v) => v <= version).reverse(),
    undefined,
  ];
  const available = new Set(listing.commits);
  const db = await openDuckDB({ delta: false, threads: 1, memoryLimit: "128MB" });
  // Inside the log, where this writer may already write (for S3, beside the scratch files);
  // DuckDB creates it only if it spills.
  const spill = isS3(root)
    ? `${await storageFor(root).scratchFile(root)}.spill`
    : `${logDir(root)}/.tmp-${crypto.randomUUID()}.spill`;
  try {
    await enableLocation(db.conn, root);
    // Bounded memory whatever the log's size: beyond the limit DuckDB spills to disk.
    await db.conn.run(`SET temp_directory = ${sqlString(spill)}`);
    await db.conn.run("SET preserve_insertion_order = false");
    for (const base of bases) {
      const first = base === undefined ? 0 : base + 1;
      const missing = Array.from({ length: version - first + 1 }, (_, i) => first + i)
        .find((v) => !available.has(v));
      if (missing !== undefined) {
        throw new CorruptLogError(
          `commit ${missing} of ${root} is missing: a checkpoint of ${version} needs it`,
        );
      }
      try {
        await defineLogView(db.conn, root, base, first, version);
        return await writeCheckpointFile(db.conn, root, version);
      } catch (err) {
        if (base === undefined || err instanceof CorruptLogError) throw err;
        deltaLog(`ignoring unreadable checkpoint ${base} of ${root}: ${err}`);
      }
    }
    throw new CorruptLogError(`${root}: no way to checkpoint version ${version}`);
  } finally {
    db.close();
    await Deno.remove(spill, { recursive: true }).catch(() => {});
    if (isS3(root)) await Deno.remove(spill.slice(0, -".spill".length)).catch(() => {});
  }
}

const COLUMN_NAMES = Object.keys(CHECKPOINT_COLUMNS);

/**
 * `cp_log`: every action of checkpoint `base` (as version `base`) and of the commits
 * `first..last`, one row each, with its version `v`. Foreign checkpoints may lack a column or
 * carry more struct fields: missing columns read as NULL, and the casts match fields by name.
 */
async function defineLogView(
  conn: DuckDBConnection,
  root: string,
  base: number | undefined,
  first: number,
  last: number,
): Promise<void> {
  const parts: string[] = [];
  if (base !== undefined) {
    const src = `read_parquet(${sqlString(checkpointPath(root, base))})`;
    const have = new Set(
      (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`)).getRowObjects()
        .map((r) => String(r.column_name)),
    );
    const cols = Object.entries(CHECKPOINT_COLUMNS).map(([c, t]) =>
      `${have.has(c) ? sqlIdent(c) : "NULL"}::${t} AS ${sqlIdent(c)}`
    );
    parts.push(`SELECT ${cols.join(", ")}, ${base}::BIGINT AS v FROM ${src}`);
  }
  if (first <= last) {
    const files = Array.from({ length: last - first + 1 }, (_, i) => commitPath(root, first + i));
    const columns = Object.entries(CHECKPOINT_COLUMNS).map(([k, t]) =>
      `${sqlString(k)}: ${sqlString(t)}`
    ).join(", ");
    parts.push(
      `SELECT ${COLUMN_NAMES.map(sqlIdent).join(", ")}, ` +
        `regexp_extract(filename, '(\\d+)\\.json$', 1)::BIGINT AS v ` +
        `FROM read_json([${files.map(sqlString).join(", ")}], format = 'newline_delimited', ` +
        `columns = {${columns}}, filename = true)`,
    );
  }
  await conn.run(`CREATE OR REPLACE TEMP VIEW cp_log AS ${parts.join(" UNION ALL ")}`);
}

/** Reconciles `cp_log` into the checkpoint of `version`, links it, advances _last_checkpoint. */
async function writeCheckpointFile(
  conn: DuckDBConnection,
  root: string,
  version: number,
): Promise<CheckpointResult> {
  // The newest protocol and metaData, found once: checked here, written from the same table.
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE cp_meta AS SELECT ` +
      `arg_max(protocol, v) FILTER (WHERE protocol IS NOT NULL) AS p, ` +
      `arg_max(metaData, v) FILTER (WHERE metaData IS NOT NULL) AS m FROM cp_log`,
  );
  const [protocol, metadata] = (await conn.runAndReadAll(
    `SELECT to_json(p)::VARCHAR, to_json(m)::VARCHAR FROM cp_meta`,
  )).getRows()[0].map((cell) => cell === null ? undefined : JSON.parse(String(cell)));
  if (!protocol || !metadata) {
    throw new CorruptLogError(`${root} has no protocol or metaData at version ${version}`);
  }
  if (protocol.minReaderVersion > 1) {
    // Its actions may carry fields this layer does not write (deletion vectors, ...).
    throw new CorruptLogError(
      `${root} needs reader version ${protocol.minReaderVersion}; this layer checkpoints 1`,
    );
  }
  const retention = parseIntervalMs(
    metadata.configuration?.["delta.deletedFileRetentionDuration"] ?? undefined,
  ) ?? DEFAULT_TOMBSTONE_RETENTION_MS;
  const horizon = Date.now() - retention;
  const t = CHECKPOINT_COLUMNS;
  const cast = (c: string, expr: string) => `(${expr})::${t[c]} AS ${sqlIdent(c)}`;
  /** A checkpoint row whose column `keep` is `expr`, every other column NULL. */
  const row = (keep: string, expr: string) =>
    `SELECT ${COLUMN_NAMES.map((c) => cast(c, c === keep ? expr : "NULL")).join(", ")}`;
  // The newest action per path decides: an add is live, a remove a tombstone until it expires.
  // Only (path, newest version) is held in memory — the actions stream past it.
  const key = `url_decode(coalesce("add".path, "remove".path))`;
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE cp_latest AS SELECT ${key} AS k, max(v) AS mv FROM cp_log ` +
      `WHERE "add" IS NOT NULL OR "remove" IS NOT NULL GROUP BY k`,
  );
  const select = [
    `${row("protocol", "p")} FROM cp_meta`,
    `${row("metaData", "m")} FROM cp_meta`,
    `${row("txn", "x")} FROM (SELECT arg_max(txn, v) AS x FROM cp_log ` +
    `WHERE txn IS NOT NULL GROUP BY txn.appId)`,
    `SELECT NULL::${t.protocol}, NULL::${t.metaData}, NULL::${t.txn}, ` +
    `${
      cast("add", `CASE WHEN "add" IS NOT NULL THEN struct_update("add", dataChange := false) END`)
    }, ${
      cast(
        "remove",
        `CASE WHEN "add" IS NULL THEN struct_update("remove", dataChange := false, ` +
          `extendedFileMetadata := coalesce("remove".extendedFileMetadata, false)) END`,
      )
    } FROM cp_log JOIN cp_latest ON ${key} = k AND v = mv ` +
    `WHERE "add" IS NOT NULL OR coalesce("remove".deletionTimestamp, 0) >= ${horizon}`,
  ].join(" UNION ALL ");

  const final = checkpointPath(root, version);
  const storage = storageFor(final);
  const tmp = await storage.scratchFile(final);
  try {
    await conn.run(
      `COPY (${select}) TO ${
        sqlString(tmp)
      } (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 16384)`,
    );
    const [size, adds] = (await conn.runAndReadAll(
      `SELECT count(*)::INTEGER, count("add")::INTEGER FROM read_parquet(${sqlString(tmp)})`,
    )).getRows()[0].map(Number);
    // Durable before it is named, and named before _last_checkpoint points at it.
    const written = await storage.putFileIfAbsent(final, tmp);
    const result = {
      version,
      size,
      sizeInBytes: (await storage.head(final))?.size ?? 0,
      numOfAddFiles: adds,
    };
    await writeLastCheckpoint(root, result);
    return { ...result, written };
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/** What checkpointIfDue needs of a table's properties, per table this process committed to. */
interface CheckpointPolicy {
  interval: number;
  /** logRetentionMs of the table. */
  logRetentionMs: number | null;
}

const policies = new Map<string, CheckpointPolicy>();

function policyOf(properties: Record<string, string>): CheckpointPolicy {
  return { interval: checkpointInterval(properties), logRetentionMs: logRetentionMs(properties) };
}

/** Remembers a table's policy (called when a snapshot is at hand, e.g. by appendQuery). */
export function rememberCheckpointPolicy(snapshot: Snapshot): void {
  policies.set(snapshot.path, policyOf(snapshot.properties));
}

/**
 * Least time between two log cleanups of a table by this process. A pass costs a few dozen
 * `stat`s when nothing expired; a streaming table expires about 700 commits in 10 minutes.
 */
export const LOG_CLEANUP_INTERVAL_MS = 10 * 60_000;

/** When this process cleans each table's log next (the first checkpoint after start does). */
const nextCleanup = new Map<string, number>();

/**
 * Actions a checkpoint may hold per commit of distance to the next one. A checkpoint rewrites
 * the whole state, so with a large state (tens of tombstones a second for the table's
 * retention, at sub-second commits) checkpointing every 10 commits would cost more than the
 * commits; spacing checkpoints by state size keeps the cost per commit bounded (1,000 actions),
 * and a reader still replays at most that many commits' worth of JSON.
 */
export const CHECKPOINT_ACTIONS_PER_COMMIT = 1000;

/**
 * Called after every successful commit: writes the checkpoint of `version` when it is a
 * multiple of the table's interval and at least `size / CHECKPOINT_ACTIONS_PER_COMMIT` commits
 * after the last checkpoint of `size` actions, then cleans the log of expired commits (at most
 * every LOG_CLEANUP_INTERVAL_MS; see log_cleanup.ts). Failures propagate; commit() logs and
 * swallows them.
 */
export async function checkpointIfDue(
  path: string,
  version: number,
  interval: number | undefined,
): Promise<void> {
  if (version === 0) return;
  let policy = policies.get(path);
  if (!policy) {
    const snap = await loadSnapshot(path, { version, tombstones: false });
    policy = policyOf(snap.properties);
    policies.set(path, policy);
  }
  if (version % (interval ?? policy.interval) !== 0) return;
  const last = await readLastCheckpoint(path);
  if (last && version - last.version < Math.ceil(last.size / CHECKPOINT_ACTIONS_PER_COMMIT)) {
    return;
  }
  await writeCheckpoint(path, { version });
  // Cleanup follows checkpoints (as in Delta's writers): only they make older commits unneeded.
  // A pass that ran out of time goes on at the next checkpoint, else in LOG_CLEANUP_INTERVAL_MS.
  const now = Date.now();
  if (policy.logRetentionMs === null || now < (nextCleanup.get(path) ?? 0)) return;
  const { complete } = await cleanupExpiredLog(path, {
    latest: version,
    retentionMs: policy.logRetentionMs,
    now,
  });
  nextCleanup.set(path, complete ? now + LOG_CLEANUP_INTERVAL_MS : 0);
}
