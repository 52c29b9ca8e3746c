/**
 * Writing checkpoints: the whole table state at one version in a Parquet file, so readers
 * replay at most `delta.checkpointInterval` JSON commits.
 *
 * The file is produced by DuckDB (NDJSON of the actions read with the checkpoint column types,
 * COPY to Parquet) under a temp name and hard-linked to `<version>.checkpoint.parquet`, so a
 * reader never sees a partial checkpoint and two writers checkpointing the same version do not
 * clobber each other. `_last_checkpoint` is then advanced (never moved backwards).
 */
import { join } from "node:path";
import { openDuckDB, sqlString } from "../query/duckdb.ts";
import { CHECKPOINT_COLUMNS } from "./checkpoint_format.ts";
import { syncPaths } from "./durability.ts";
import { checkpointPath, logDir, writeLastCheckpoint } from "./log.ts";
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

/** Writes the checkpoint of `snapshot` (or of the table's latest version). */
export async function writeCheckpoint(
  pathOrSnapshot: string | Snapshot,
): Promise<CheckpointResult> {
  const snap = typeof pathOrSnapshot === "string"
    ? await loadSnapshot(pathOrSnapshot)
    : pathOrSnapshot;
  if (!snap.hasTombstones) {
    throw new RangeError("writeCheckpoint needs a snapshot loaded with its tombstones");
  }
  const dir = logDir(snap.path);
  const final = checkpointPath(snap.path, snap.version);
  const retention = parseIntervalMs(snap.properties["delta.deletedFileRetentionDuration"]) ??
    DEFAULT_TOMBSTONE_RETENTION_MS;
  const horizon = Date.now() - retention;
  const m = snap.metadata;
  const lines: string[] = [
    JSON.stringify({
      protocol: {
        minReaderVersion: snap.protocol.minReaderVersion,
        minWriterVersion: snap.protocol.minWriterVersion,
      },
    }),
    JSON.stringify({
      metaData: {
        id: m.id,
        name: m.name ?? null,
        description: m.description ?? null,
        format: { provider: m.format.provider, options: m.format.options ?? {} },
        schemaString: m.schemaString,
        partitionColumns: m.partitionColumns,
        configuration: m.configuration ?? {},
        createdTime: m.createdTime ?? null,
      },
    }),
  ];
  for (const [appId, t] of snap.txns) {
    lines.push(JSON.stringify({
      txn: { appId, version: t.version, lastUpdated: t.lastUpdated ?? null },
    }));
  }
  for (const a of snap.files) {
    lines.push(JSON.stringify({
      add: {
        path: a.path,
        partitionValues: a.partitionValues,
        size: a.size,
        modificationTime: a.modificationTime,
        dataChange: false,
        stats: a.stats ?? null,
        tags: a.tags ?? null,
      },
    }));
  }
  for (const r of snap.tombstones) {
    if ((r.deletionTimestamp ?? 0) < horizon) continue;
    lines.push(JSON.stringify({
      remove: {
        path: r.path,
        deletionTimestamp: r.deletionTimestamp ?? null,
        dataChange: false,
        extendedFileMetadata: r.extendedFileMetadata ?? false,
        partitionValues: r.partitionValues ?? null,
        size: r.size ?? null,
        tags: r.tags ?? null,
      },
    }));
  }
  const id = crypto.randomUUID();
  const tmpJson = join(dir, `.tmp-${id}.checkpoint.json`);
  const tmpParquet = join(dir, `.tmp-${id}.checkpoint.parquet`);
  await Deno.writeTextFile(tmpJson, lines.join("\n") + "\n");
  const db = await openDuckDB({ delta: false, threads: 1 });
  let written = false;
  try {
    const columns = Object.entries(CHECKPOINT_COLUMNS).map(([k, v]) =>
      `${sqlString(k)}: ${sqlString(v)}`
    ).join(", ");
    await db.conn.run(
      `COPY (SELECT ${Object.keys(CHECKPOINT_COLUMNS).map((c) => `"${c}"`).join(", ")} ` +
        `FROM read_json(${sqlString(tmpJson)}, format = 'newline_delimited', ` +
        `columns = {${columns}}, maximum_object_size = 1073741824)) ` +
        `TO ${sqlString(tmpParquet)} (FORMAT parquet, COMPRESSION snappy)`,
    );
    try {
      // Synced before it is named, and named before _last_checkpoint points at it.
      await syncPaths([tmpParquet]);
      await Deno.link(tmpParquet, final);
      await syncPaths([dir]);
      written = true;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
  } finally {
    db.close();
    await Deno.remove(tmpJson).catch(() => {});
    await Deno.remove(tmpParquet).catch(() => {});
  }
  const sizeInBytes = (await Deno.stat(final)).size;
  const result = {
    version: snap.version,
    size: lines.length,
    sizeInBytes,
    numOfAddFiles: snap.files.length,
  };
  await writeLastCheckpoint(snap.path, result);
  return { ...result, written };
}

/** Checkpoint intervals of tables this process has committed to (properties rarely change). */
const intervals = new Map<string, number>();

/** Remembers a table's interval (called when a snapshot is at hand, e.g. by appendQuery). */
export function rememberCheckpointInterval(snapshot: Snapshot): void {
  intervals.set(snapshot.path, checkpointInterval(snapshot.properties));
}

/**
 * Called after every successful commit: writes the checkpoint of `version` when it is a
 * multiple of the table's interval. Failures propagate; commit() logs and swallows them.
 */
export async function checkpointIfDue(
  path: string,
  version: number,
  interval: number | undefined,
): Promise<void> {
  if (version === 0) return;
  let every = interval ?? intervals.get(path);
  let snap: Snapshot | undefined;
  if (every === undefined) {
    snap = await loadSnapshot(path, { version });
    every = checkpointInterval(snap.properties);
    intervals.set(path, every);
  }
  if (version % every !== 0) return;
  await writeCheckpoint(snap ?? await loadSnapshot(path, { version }));
}
