/**
 * The table facade other modules call: create/open, snapshot, write, commit, append.
 *
 * @example
 * ```ts
 * const snap = await createTable("lakehouse/silver", { schema, partitionColumns: ["building", "type"] });
 * const { version, adds } = await appendQuery(conn, snap.path, "SELECT * FROM batch", {
 *   txns: [{ appId: "ingest-sensor_data-0", version: lastOffset }],
 * });
 * ```
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { isS3, resolveLocation } from "../storage/location.ts";
import type { Action, AddAction } from "./actions.ts";
import { rememberCheckpointPolicy } from "./checkpoint.ts";
import { commit, type CommitOptions, engineInfo } from "./commit.ts";
import {
  CommitConflictError,
  DeltaError,
  TableExistsMismatchError,
  TableNotFoundError,
} from "./errors.ts";
import { writeDataFiles, type WriteDataFilesOptions } from "./parquet_writer.ts";
import { evolveTo, schemaCompatibility } from "./evolution.ts";
import {
  type TableSchema,
  toSchemaString,
  validatePartitionColumns,
  validateSchema,
} from "./schema.ts";
import { loadSnapshot, type Snapshot } from "./snapshot.ts";

export type { Action, AddAction } from "./actions.ts";
export type { DeltaField, DeltaPrimitive, TableSchema } from "./schema.ts";
export type { LoadSnapshotOptions, Snapshot } from "./snapshot.ts";
export { loadSnapshot } from "./snapshot.ts";
export { releaseStagingDirectories, writeDataFiles } from "./parquet_writer.ts";
export { commit } from "./commit.ts";
export type { CommitOptions, CommitResult } from "./commit.ts";
export { writeCheckpoint } from "./checkpoint.ts";
export { evolveTo } from "./evolution.ts";
export type { Evolution } from "./evolution.ts";
export * from "./errors.ts";

/** Options of createTable. */
export interface CreateTableOptions {
  schema: TableSchema;
  partitionColumns: string[];
  /** Table properties, e.g. {"delta.checkpointInterval": "10"}. */
  properties?: Record<string, string>;
  name?: string;
  description?: string;
}

function sameDefinition(snap: Snapshot, opts: CreateTableOptions): string | undefined {
  // A table that gained nullable columns since (evolution.ts), or whose creator asks for new
  // nullable ones (added by its first write), is still the same table.
  const diff = schemaCompatibility(snap.schema, opts.schema);
  if (diff !== undefined) {
    return `schema ${snap.metadata.schemaString} does not fit requested ${
      toSchemaString(opts.schema)
    }: ${diff}`;
  }
  if (JSON.stringify(snap.partitionColumns) !== JSON.stringify(opts.partitionColumns)) {
    return `partition columns ${JSON.stringify(snap.partitionColumns)} != requested ${
      JSON.stringify(opts.partitionColumns)
    }`;
  }
  return undefined;
}

async function existing(root: string, opts: CreateTableOptions): Promise<Snapshot> {
  const snap = await loadSnapshot(root, { tombstones: false });
  const diff = sameDefinition(snap, opts);
  if (diff) throw new TableExistsMismatchError(root, diff);
  return snap;
}

/**
 * Creates version 0 of a table. Idempotent and race-safe: when the table already exists (or
 * another process creates it concurrently) with the same partitioning and a compatible schema
 * (the same, give or take nullable columns: see evolution.ts), returns its current snapshot; a
 * different definition is a TableExistsMismatchError.
 */
export async function createTable(path: string, opts: CreateTableOptions): Promise<Snapshot> {
  const root = resolveLocation(path);
  validateSchema(opts.schema);
  validatePartitionColumns(opts.schema, opts.partitionColumns);
  // One read of the log whether or not the table exists (every consumer start comes here).
  try {
    return await existing(root, opts);
  } catch (err) {
    if (!(err instanceof TableNotFoundError)) throw err;
  }
  // Object stores have no directories; locally the root exists even before data arrives.
  if (!isS3(root)) await Deno.mkdir(root, { recursive: true });
  const actions: Action[] = [
    { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
    {
      metaData: {
        id: crypto.randomUUID(),
        name: opts.name ?? null,
        description: opts.description ?? null,
        format: { provider: "parquet", options: {} },
        schemaString: toSchemaString(opts.schema),
        partitionColumns: [...opts.partitionColumns],
        configuration: { ...(opts.properties ?? {}) },
        createdTime: Date.now(),
      },
    },
  ];
  try {
    await commit(root, actions, {
      readVersion: -1,
      operation: "CREATE TABLE",
      operationParameters: {
        partitionBy: JSON.stringify(opts.partitionColumns),
        properties: JSON.stringify(opts.properties ?? {}),
      },
      isBlindAppend: true,
      maxRetries: 0,
      skipCheckpoint: true,
    });
  } catch (err) {
    if (!(err instanceof CommitConflictError)) throw err;
    // Another process created version 0 first.
  }
  // Version 0 exists now (ours, or the conditional write said another's); the log's listing
  // may not show it yet on an object store, which listLog's probes make up for.
  return await existing(root, opts);
}

/** Latest snapshot of an existing table; TableNotFoundError when `path` holds none. */
export async function openTable(path: string): Promise<Snapshot> {
  const snap = await loadSnapshot(path, { tombstones: false });
  rememberCheckpointPolicy(snap);
  return snap;
}

/** Options of appendQuery. */
export interface AppendOptions extends WriteDataFilesOptions {
  /** Exactly-once watermarks committed with the data (one per source partition). */
  txns?: { appId: string; version: number }[];
  /** commitInfo.operation (default "WRITE"). */
  operation?: string;
  operationParameters?: Record<string, unknown>;
  maxRetries?: number;
  /** Snapshot the rows were prepared against (default: the latest, loaded here). */
  snapshot?: Snapshot;
  /**
   * The schema the rows are written with: its fields the table lacks are added (nullable) by a
   * metaData action in the same commit (evolution.ts). Default: the table's own schema.
   */
  schema?: TableSchema;
}

/**
 * Appends the rows of `sourceSql` as one commit: writeDataFiles + commit (blind append, with
 * the txns). With no rows and no txns nothing is committed and the read version is returned.
 */
export async function appendQuery(
  conn: DuckDBConnection,
  path: string,
  sourceSql: string,
  opts: AppendOptions = {},
): Promise<{ version: number; adds: AddAction[] }> {
  const snap = opts.snapshot ?? await loadSnapshot(path, { tombstones: false });
  if (snap.protocol.minWriterVersion > 2) {
    throw new DeltaError(
      `${snap.path} needs writer version ${snap.protocol.minWriterVersion}; this layer writes 2`,
    );
  }
  rememberCheckpointPolicy(snap);
  const evolution = opts.schema ? evolveTo(snap, opts.schema) : undefined;
  const adds = await writeDataFiles(conn, evolution?.snapshot ?? snap, sourceSql, opts);
  if (adds.length === 0 && !(opts.txns?.length)) return { version: snap.version, adds };
  const schemaChange = evolution?.actions ?? [];
  const commitOpts: CommitOptions = {
    readVersion: snap.version,
    operation: opts.operation ?? "WRITE",
    operationParameters: opts.operationParameters ??
      { mode: "Append", ...(schemaChange.length ? { mergeSchema: true } : {}) },
    txns: opts.txns,
    isBlindAppend: schemaChange.length === 0,
    maxRetries: opts.maxRetries,
  };
  const actions: Action[] = [...schemaChange, ...adds.map((add) => ({ add }))];
  const { version } = await commit(snap.path, actions, commitOpts);
  return { version, adds };
}

/** Re-exported so callers can label their own commits consistently. */
export { engineInfo };
export { optimize } from "./optimize.ts";
export type { OptimizeOptions, OptimizeResult } from "./optimize.ts";
export { vacuum } from "./vacuum.ts";
export type { VacuumOptions, VacuumResult } from "./vacuum.ts";
export { history } from "./history.ts";
export type { HistoryEntry } from "./history.ts";
