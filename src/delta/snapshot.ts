/**
 * Log replay: the state of a table at its latest version, a given version, or a timestamp.
 *
 * Replay starts from the newest single-part checkpoint at or below the target version (found by
 * listing, with `_last_checkpoint` only a hint) and applies the later JSON commits in order.
 * Versions must be contiguous from the starting point; a gap is corruption, never skipped.
 * Within the replay a `remove` deletes an active file and records a tombstone; an `add` of the
 * same path later revives it; the newest `txn` per appId wins.
 */
import { resolveLocation } from "../storage/location.ts";
import { storageFor } from "../storage/storage.ts";
import {
  type Action,
  type AddAction,
  type CommitInfoAction,
  isCommitInfo,
  type MetadataAction,
  type ProtocolAction,
  type RemoveAction,
} from "./actions.ts";
import { deltaLog } from "./diagnostics.ts";
import { type CheckpointState, readCheckpointFile } from "./checkpoint_format.ts";
import { CorruptLogError, TableNotFoundError, VersionNotFoundError } from "./errors.ts";
import {
  checkpointPath,
  commitFileTimes,
  commitPath,
  listLog,
  type LogListing,
  readCommit,
  withLogListing,
} from "./log.ts";
import { decodeAddPath } from "./partition.ts";
import { parseSchemaString, type TableSchema } from "./schema.ts";

/** Latest txn per application id. */
export interface TxnState {
  version: number;
  lastUpdated?: number;
}

/** An immutable view of a table at one version. */
export interface Snapshot {
  /** Absolute table root: a local path or an `s3://` location. */
  path: string;
  version: number;
  schema: TableSchema;
  partitionColumns: string[];
  /** Table properties (metaData.configuration). */
  properties: Record<string, string>;
  /** Active data files. */
  files: AddAction[];
  /** Tombstones: files removed at or before this version (for checkpoints and vacuum). */
  tombstones: RemoveAction[];
  /** False when loaded with `tombstones: false`: `tombstones` is then empty, not the truth. */
  hasTombstones: boolean;
  txns: Map<string, TxnState>;
  /** Latest committed txn version of `appId`, undefined when it never committed. */
  txnVersion(appId: string): number | undefined;
  metadata: MetadataAction;
  protocol: ProtocolAction;
  /** When `version` was committed (commitInfo.timestamp, else the commit file's mtime), ms. */
  commitTimestamp: number;
}

/** Options of loadSnapshot; at most one of version/timestamp. */
export interface LoadSnapshotOptions {
  version?: number;
  /** Latest version committed at or before this instant. */
  timestamp?: Date;
  /**
   * Keep the tombstones (default true). A long-running writer does not need them, and they
   * grow with every compaction until a checkpoint expires them: without them its snapshot and
   * each refresh stay the size of the live files. refreshSnapshot keeps the choice.
   */
  tombstones?: boolean;
}

/** Mutable replay state. */
interface ReplayState {
  protocol?: ProtocolAction;
  metadata?: MetadataAction;
  adds: Map<string, AddAction>;
  removes: Map<string, RemoveAction>;
  /** False for a snapshot without tombstones: removes are applied but not kept. */
  keepRemoves: boolean;
  txns: Map<string, TxnState>;
}

function applyActions(state: ReplayState, actions: Action[]): CommitInfoAction | undefined {
  let info: CommitInfoAction | undefined;
  for (const a of actions) {
    if ("add" in a) {
      const key = decodeAddPath(a.add.path);
      state.removes.delete(key);
      state.adds.set(key, a.add);
    } else if ("remove" in a) {
      const key = decodeAddPath(a.remove.path);
      state.adds.delete(key);
      if (state.keepRemoves) state.removes.set(key, a.remove);
    } else if ("txn" in a) {
      state.txns.set(a.txn.appId, {
        version: a.txn.version,
        ...(a.txn.lastUpdated != null ? { lastUpdated: a.txn.lastUpdated } : {}),
      });
    } else if ("metaData" in a) {
      state.metadata = a.metaData;
    } else if ("protocol" in a) {
      state.protocol = a.protocol;
    } else if (isCommitInfo(a)) {
      info = a.commitInfo;
    }
  }
  return info;
}

/**
 * Checkpoints are immutable once linked into place, so their parsed content is cached per
 * process (a few entries): repeated snapshot loads of a hot table skip the Parquet read.
 */
const checkpointCache = new Map<string, CheckpointState>();
const CHECKPOINT_CACHE_SIZE = 8;

/** Empties the checkpoint cache (benchmarks measuring cold loads). */
export function clearSnapshotCaches(): void {
  checkpointCache.clear();
}

async function loadCheckpoint(
  tablePath: string,
  version: number,
  removes: boolean,
): Promise<CheckpointState> {
  const file = checkpointPath(tablePath, version);
  const key = `${file}#${removes ? "all" : "live"}`;
  const hit = checkpointCache.get(key);
  if (hit) return hit;
  const state = await readCheckpointFile(file, { removes });
  checkpointCache.set(key, state);
  if (checkpointCache.size > CHECKPOINT_CACHE_SIZE) {
    checkpointCache.delete(checkpointCache.keys().next().value!);
  }
  return state;
}

/** Commit timestamp of `version`: commitInfo.timestamp, else the file's mtime. */
export async function commitTimestampOf(
  tablePath: string,
  version: number,
  actions?: Action[],
): Promise<number> {
  const acts = actions ?? await readCommit(tablePath, version);
  for (const a of acts) {
    if (isCommitInfo(a) && typeof a.commitInfo.timestamp === "number") {
      return a.commitInfo.timestamp;
    }
  }
  const file = commitPath(tablePath, version);
  const info = await storageFor(file).head(file);
  if (!info) throw new VersionNotFoundError(`commit ${version} of ${tablePath} does not exist`);
  return info.mtime ?? 0;
}

/**
 * Latest version committed at or before `at` (time travel by timestamp), dated by the commit
 * files' modification times as the protocol says ({@link commitFileTimes}), so `--as-of` picks
 * the version Spark and delta-rs pick.
 */
export async function versionAtTimestamp(
  tablePath: string,
  at: Date,
  listing?: LogListing,
): Promise<number> {
  const log = listing ?? await listLog(tablePath);
  const times = await commitFileTimes(tablePath, log);
  const target = at.getTime();
  let found: number | undefined;
  for (const [v, t] of times) if (t <= target) found = v;
  if (found !== undefined) return found;
  throw new VersionNotFoundError(
    `no version of ${tablePath} was committed at or before ${at.toISOString()} ` +
      `(earliest commit is version ${log.commits[0] ?? "none"}${
        times.size ? `, at ${new Date([...times.values()][0]).toISOString()}` : ""
      })`,
  );
}

/** Loads the snapshot of a table (latest, or as of a version or timestamp). */
export async function loadSnapshot(
  path: string,
  opts: LoadSnapshotOptions = {},
): Promise<Snapshot> {
  const root = resolveLocation(path);
  // Only the latest snapshot can start from the hint; time travel needs the whole log.
  const hint = opts.version === undefined && opts.timestamp === undefined;
  return await withLogListing(root, { hint }, (listing) => replay(root, listing, opts));
}

async function replay(
  root: string,
  listing: LogListing,
  opts: LoadSnapshotOptions,
): Promise<Snapshot> {
  if (listing.commits.length === 0 && listing.checkpoints.length === 0) {
    throw new TableNotFoundError(root);
  }
  const latest = Math.max(listing.commits.at(-1) ?? -1, listing.checkpoints.at(-1) ?? -1);
  let target = latest;
  if (opts.version !== undefined && opts.timestamp !== undefined) {
    throw new RangeError("loadSnapshot: pass either version or timestamp, not both");
  }
  if (opts.version !== undefined) {
    if (!Number.isSafeInteger(opts.version) || opts.version < 0 || opts.version > latest) {
      throw new VersionNotFoundError(
        `version ${opts.version} of ${root} does not exist (latest is ${latest})`,
      );
    }
    target = opts.version;
  } else if (opts.timestamp !== undefined) {
    target = await versionAtTimestamp(root, opts.timestamp, listing);
  }

  const state: ReplayState = {
    adds: new Map(),
    removes: new Map(),
    keepRemoves: opts.tombstones !== false,
    txns: new Map(),
  };
  let start = 0;
  // Newest usable checkpoint <= target; an unreadable one falls back to the previous one.
  for (const cp of listing.checkpoints.filter((v) => v <= target).reverse()) {
    try {
      const c = await loadCheckpoint(root, cp, opts.tombstones !== false);
      state.protocol = c.protocol;
      state.metadata = c.metadata;
      for (const a of c.adds) state.adds.set(decodeAddPath(a.path), a);
      for (const r of c.removes) state.removes.set(decodeAddPath(r.path), r);
      for (const t of c.txns) {
        state.txns.set(t.appId, {
          version: t.version,
          ...(t.lastUpdated != null ? { lastUpdated: t.lastUpdated } : {}),
        });
      }
      start = cp + 1;
      break;
    } catch (err) {
      deltaLog(`ignoring unreadable checkpoint ${cp} of ${root}: ${err}`);
    }
  }

  const available = new Set(listing.commits);
  // A log cleaned up to its retention starts at a checkpoint: versions before it are gone.
  const earliest = listing.checkpoints[0];
  if (start === 0 && !available.has(0) && (earliest === undefined || target < earliest)) {
    throw new VersionNotFoundError(
      `version ${target} of ${root} is no longer available: its log was cleaned up ` +
        `(delta.logRetentionDuration); the earliest version is ${earliest ?? "unknown"}`,
    );
  }
  for (let v = start; v <= target; v++) {
    if (!available.has(v)) {
      throw new CorruptLogError(
        `commit ${v} of ${root} is missing: replay from ${start} to ${target} needs it`,
      );
    }
  }
  // Read in parallel (bounded), apply in order.
  let commitInfo: CommitInfoAction | undefined;
  let lastActions: Action[] | undefined;
  const BATCH = 64;
  for (let v = start; v <= target; v += BATCH) {
    const versions = Array.from({ length: Math.min(BATCH, target - v + 1) }, (_, i) => v + i);
    const batch = await Promise.all(versions.map((x) => readCommit(root, x)));
    for (const actions of batch) {
      commitInfo = applyActions(state, actions);
      lastActions = actions;
    }
  }
  if (!state.protocol || !state.metadata) {
    throw new CorruptLogError(`${root} has no protocol or metaData at version ${target}`);
  }
  if (state.protocol.minReaderVersion > 1) {
    throw new CorruptLogError(
      `${root} needs reader version ${state.protocol.minReaderVersion}; this layer reads 1`,
    );
  }
  const commitTimestamp = typeof commitInfo?.timestamp === "number" && lastActions
    ? commitInfo.timestamp
    : await commitTimestampOf(root, target).catch(() => 0);

  return toSnapshot(root, target, state, commitTimestamp, opts.tombstones !== false);
}

function toSnapshot(
  root: string,
  version: number,
  state: ReplayState,
  commitTimestamp: number,
  hasTombstones: boolean,
): Snapshot {
  const metadata = state.metadata!;
  const txns = state.txns;
  return {
    path: root,
    version,
    schema: parseSchemaString(metadata.schemaString),
    partitionColumns: [...metadata.partitionColumns],
    properties: { ...metadata.configuration },
    files: [...state.adds.values()],
    tombstones: [...state.removes.values()],
    hasTombstones,
    txns,
    txnVersion: (appId: string) => txns.get(appId)?.version,
    metadata,
    protocol: state.protocol!,
    commitTimestamp,
  };
}

/**
 * Brings a snapshot up to the table's latest version by reading only the commits after it —
 * no log listing, no checkpoint read — so a long-running writer's per-commit cost does not
 * grow with the table's history. Returns `prev` itself when nothing is newer.
 */
export async function refreshSnapshot(prev: Snapshot): Promise<Snapshot> {
  const newer: Action[][] = [];
  for (let v = prev.version + 1;; v++) {
    try {
      newer.push(await readCommit(prev.path, v));
    } catch (err) {
      if (err instanceof VersionNotFoundError) break;
      throw err;
    }
  }
  if (newer.length === 0) return prev;
  const state: ReplayState = {
    protocol: prev.protocol,
    metadata: prev.metadata,
    adds: new Map(prev.files.map((a) => [decodeAddPath(a.path), a])),
    removes: new Map(prev.tombstones.map((r) => [decodeAddPath(r.path), r])),
    keepRemoves: prev.hasTombstones,
    txns: new Map(prev.txns),
  };
  let commitInfo: CommitInfoAction | undefined;
  for (const actions of newer) commitInfo = applyActions(state, actions);
  const version = prev.version + newer.length;
  const commitTimestamp = typeof commitInfo?.timestamp === "number"
    ? commitInfo.timestamp
    : await commitTimestampOf(prev.path, version).catch(() => 0);
  return toSnapshot(prev.path, version, state, commitTimestamp, prev.hasTombstones);
}
