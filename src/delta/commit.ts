/**
 * Committing actions as the next table version, put-if-absent.
 *
 * Version N is claimed by a put-if-absent of `_delta_log/<N>.json` (src/storage): locally a
 * temp file hard-linked to the final name (link fails when another writer owns N), on S3 a
 * `PUT` with `If-None-Match: *` (412 when another writer owns N; an unknown outcome is settled
 * by reading the key back). Either way the entry appears atomically with complete content and
 * is never written over an existing one.
 * After losing a race the winners are re-read and checked:
 * - metaData/protocol changes conflict with everything (CommitConflictError);
 * - a winner carrying a `txn` for one of our appIds means two writers own the same source
 *   partition: ConcurrentTransactionError, never retried (a retry would duplicate data);
 * - a winner removing a file we also remove conflicts (optimize racing optimize);
 * - anything else (blind appends, compactions of other files) is harmless: retry at the next
 *   free version with jittered backoff, up to maxRetries — unless the caller's `checkWinner`
 *   finds that a winner invalidates what it read (a writer whose rows must be unique against
 *   the table's: see pipeline/writer.ts), and throws.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelay } from "../retry.ts";
import { resolveLocation } from "../storage/location.ts";
import { storageFor } from "../storage/storage.ts";
import {
  type Action,
  type CommitInfoAction,
  isAdd,
  isMetadata,
  isProtocol,
  isRemove,
  isTxn,
  parseStats,
  serializeActions,
} from "./actions.ts";
import { deltaLog } from "./diagnostics.ts";
import { syncDataFiles } from "./durability.ts";
import { CommitConflictError, ConcurrentTransactionError } from "./errors.ts";
import { commitExists, commitPath, readCommit } from "./log.ts";
import { decodeAddPath } from "./partition.ts";

/** Version of this layer, reported in commitInfo.engineInfo. */
export const LAYER_VERSION = "0.1.0";

/** `smarttech-lakehouse/<layer> deno/<deno>`: lets readers of the history tell engines apart. */
export function engineInfo(): string {
  return `smarttech-lakehouse/${LAYER_VERSION} deno/${Deno.version.deno}`;
}

/** Options of commit. */
export interface CommitOptions {
  /** Version the actions were computed against; conflicts are checked after it. */
  readVersion: number;
  /** commitInfo.operation, e.g. "WRITE", "OPTIMIZE". */
  operation: string;
  operationParameters?: Record<string, unknown>;
  /** Exactly-once watermarks committed atomically with the actions. */
  txns?: { appId: string; version: number }[];
  /** Extra commitInfo.operationMetrics (merged over the computed ones). */
  metrics?: Record<string, number | string>;
  /** True when the commit only adds files and read nothing from the table. */
  isBlindAppend?: boolean;
  /** Lost races tolerated before CommitConflictError (default 25). */
  maxRetries?: number;
  /** Checkpoint interval; default: the table's delta.checkpointInterval, else 10. */
  checkpointInterval?: number;
  /** Skip the automatic checkpoint (bulk loads that checkpoint once at the end). */
  skipCheckpoint?: boolean;
  /**
   * Called with each concurrent commit this one lost a race to, after the built-in checks and
   * before retrying; throwing abandons the commit (nothing of it is in the log).
   */
  checkWinner?: (version: number, actions: Action[]) => Promise<void> | void;
}

/** Result of a successful commit. */
export interface CommitResult {
  version: number;
}

function operationMetrics(actions: Action[]): Record<string, number> {
  let numFiles = 0, numOutputRows = 0, numOutputBytes = 0, numRemovedFiles = 0;
  let numRemovedBytes = 0;
  for (const a of actions) {
    if (isAdd(a)) {
      numFiles++;
      numOutputBytes += a.add.size;
      numOutputRows += parseStats(a.add)?.numRecords ?? 0;
    } else if (isRemove(a)) {
      numRemovedFiles++;
      numRemovedBytes += a.remove.size ?? 0;
    }
  }
  return numRemovedFiles > 0
    ? { numFiles, numOutputRows, numOutputBytes, numRemovedFiles, numRemovedBytes }
    : { numFiles, numOutputRows, numOutputBytes };
}

function checkWinner(
  version: number,
  winner: Action[],
  readVersion: number,
  ours: { appIds: Set<string>; removes: Set<string>; changesMetadata: boolean },
): void {
  for (const a of winner) {
    if (isMetadata(a) || isProtocol(a)) {
      throw new CommitConflictError(
        readVersion,
        [version],
        `version ${version} changed the table's ${isMetadata(a) ? "metadata" : "protocol"}`,
      );
    }
    if (isTxn(a) && ours.appIds.has(a.txn.appId)) {
      throw new ConcurrentTransactionError(a.txn.appId, version, readVersion, a.txn.version);
    }
    if (isRemove(a) && ours.removes.has(decodeAddPath(a.remove.path))) {
      throw new CommitConflictError(
        readVersion,
        [version],
        `file ${a.remove.path} was already removed by version ${version}`,
      );
    }
  }
  if (ours.changesMetadata) {
    throw new CommitConflictError(
      readVersion,
      [version],
      "this commit changes metadata but version " + version + " was committed concurrently",
    );
  }
}

/**
 * Writes `body` as exactly version `version` (no retry). Returns false when the version
 * exists. Used by commit and by createTable for version 0. The entry is on stable storage
 * when this returns true (see durability.ts).
 */
export async function writeCommitFile(
  tablePath: string,
  version: number,
  body: string,
): Promise<boolean> {
  const file = commitPath(tablePath, version);
  return await storageFor(file).putIfAbsent(file, body);
}

/**
 * The wait after losing a race: short (a commit file is written in milliseconds), growing to
 * 80 ms, jittered so racing writers spread out. Same mean as the old uniform 0…min(2^i, 32)·5 ms.
 */
const LOST_RACE_BACKOFF = { baseMs: 2.5, maxMs: 80 };

/**
 * Commits `actions` as the next version after `readVersion` (or later, after harmless races).
 * commitInfo is generated here; any commitInfo in `actions` is replaced.
 */
export async function commit(
  path: string,
  actions: Action[],
  opts: CommitOptions,
): Promise<CommitResult> {
  const root = resolveLocation(path);
  const maxRetries = opts.maxRetries ?? 25;
  const body = actions.filter((a) => !("commitInfo" in a));
  const now = Date.now();
  for (const t of opts.txns ?? []) {
    if (!Number.isSafeInteger(t.version)) {
      throw new RangeError(
        `txn version for appId "${t.appId}" must be an integer, got ${t.version}`,
      );
    }
    body.push({ txn: { appId: t.appId, version: t.version, lastUpdated: now } });
  }
  const appIds = new Set(body.filter(isTxn).map((a) => a.txn.appId));
  if (appIds.size !== body.filter(isTxn).length) {
    throw new RangeError("a commit may carry at most one txn per appId");
  }
  const ours = {
    appIds,
    removes: new Set(body.filter(isRemove).map((a) => decodeAddPath(a.remove.path))),
    changesMetadata: body.some((a) => isMetadata(a) || isProtocol(a)),
  };
  const metrics = { ...operationMetrics(body), ...(opts.metrics ?? {}) };
  const txnId = crypto.randomUUID();
  // Data before the entry that names it: a power loss must not leave a commit without its files.
  await syncDataFiles(root, body.filter(isAdd).map((a) => decodeAddPath(a.add.path)));

  let version = opts.readVersion + 1;
  let checkedUpTo = opts.readVersion;
  const lostTo: number[] = [];
  for (let attempt = 0;; attempt++) {
    const info: CommitInfoAction = {
      timestamp: Date.now(),
      operation: opts.operation,
      operationParameters: opts.operationParameters ?? {},
      readVersion: opts.readVersion,
      isolationLevel: "Serializable",
      isBlindAppend: opts.isBlindAppend ?? false,
      operationMetrics: metrics,
      engineInfo: engineInfo(),
      txnId,
    };
    const text = serializeActions([{ commitInfo: info }, ...body]);
    if (await writeCommitFile(root, version, text)) {
      if (!opts.skipCheckpoint) {
        try {
          // Imported lazily: checkpointing needs snapshots and DuckDB, plain commits do not.
          const { checkpointIfDue } = await import("./checkpoint.ts");
          await checkpointIfDue(root, version, opts.checkpointInterval);
        } catch (err) {
          // A checkpoint is an optimisation; the commit above is already durable.
          deltaLog(`checkpoint after version ${version} of ${root} failed: ${err}`);
        }
      }
      return { version };
    }
    // Lost the race for `version`: check every commit after what we have already checked.
    let latest = version;
    while (await commitExists(root, latest + 1)) latest++;
    for (let v = checkedUpTo + 1; v <= latest; v++) {
      const winner = await readCommit(root, v);
      checkWinner(v, winner, opts.readVersion, ours);
      await opts.checkWinner?.(v, winner);
      lostTo.push(v);
    }
    checkedUpTo = latest;
    if (attempt + 1 > maxRetries) {
      throw new CommitConflictError(
        opts.readVersion,
        lostTo,
        `gave up after ${attempt + 1} attempts lost to concurrent commits`,
      );
    }
    version = latest + 1;
    await sleep(backoffDelay(attempt, LOST_RACE_BACKOFF));
  }
}
