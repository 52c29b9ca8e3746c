/**
 * Delta log actions and their newline-delimited JSON form.
 *
 * A commit file is one JSON object per line, each with exactly one action key. Unknown action
 * kinds (cdc, domainMetadata...) are kept out of the typed union and skipped when reading,
 * which is what PROTOCOL.md asks of readers that do not use them.
 */
import { CorruptLogError } from "./errors.ts";

/** Reader/writer protocol versions. This layer writes 1/2 with no feature lists. */
export interface ProtocolAction {
  minReaderVersion: number;
  minWriterVersion: number;
  readerFeatures?: string[];
  writerFeatures?: string[];
}

/** Table metadata; `configuration` holds table properties such as delta.checkpointInterval. */
export interface MetadataAction {
  id: string;
  name?: string | null;
  description?: string | null;
  format: { provider: string; options: Record<string, string> };
  schemaString: string;
  partitionColumns: string[];
  configuration: Record<string, string>;
  createdTime?: number | null;
}

/**
 * A data file joining the table. `path` is relative to the table root and URI-encoded;
 * `partitionValues` are Delta's string serialisation with JSON null for null.
 */
export interface AddAction {
  path: string;
  partitionValues: Record<string, string | null>;
  size: number;
  modificationTime: number;
  dataChange: boolean;
  /** JSON string: numRecords, minValues, maxValues, nullCount. */
  stats?: string | null;
  tags?: Record<string, string> | null;
}

/** A data file leaving the table (a tombstone until vacuum's retention has passed). */
export interface RemoveAction {
  path: string;
  deletionTimestamp?: number | null;
  dataChange: boolean;
  extendedFileMetadata?: boolean;
  partitionValues?: Record<string, string | null> | null;
  size?: number | null;
  tags?: Record<string, string> | null;
}

/** Application transaction id: the latest version per appId is the exactly-once watermark. */
export interface TxnAction {
  appId: string;
  version: number;
  lastUpdated?: number | null;
}

/** Provenance of a commit; readers must not depend on it except for the timestamp. */
export interface CommitInfoAction {
  timestamp?: number;
  operation?: string;
  operationParameters?: Record<string, unknown>;
  operationMetrics?: Record<string, number | string>;
  engineInfo?: string;
  isBlindAppend?: boolean;
  readVersion?: number;
  txnId?: string;
  [key: string]: unknown;
}

/** One line of a commit file. */
export type Action =
  | { protocol: ProtocolAction }
  | { metaData: MetadataAction }
  | { add: AddAction }
  | { remove: RemoveAction }
  | { txn: TxnAction }
  | { commitInfo: CommitInfoAction };

const KINDS = ["protocol", "metaData", "add", "remove", "txn", "commitInfo"] as const;

/** Serialises actions to a commit file body (one action per line, trailing newline). */
export function serializeActions(actions: Action[]): string {
  return actions.map((a) => JSON.stringify(a)).join("\n") + "\n";
}

/**
 * Parses a commit file body. `where` names the file in errors. Blank lines are allowed;
 * a line that is not a JSON object is corruption (commits appear atomically, so a partial
 * line is never expected).
 */
export function parseActions(text: string, where: string): Action[] {
  const out: Action[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new CorruptLogError(`${where}:${i + 1} is not JSON: ${(err as Error).message}`);
    }
    if (obj === null || typeof obj !== "object") {
      throw new CorruptLogError(`${where}:${i + 1} is not a JSON object: ${line.slice(0, 200)}`);
    }
    for (const kind of KINDS) {
      if (obj[kind] !== undefined && obj[kind] !== null) {
        out.push({ [kind]: obj[kind] } as Action);
        break;
      }
    }
  }
  return out;
}

/**
 * The remove action retiring `add` from the table at `now`: `dataChange` false when the same
 * rows are written again (a compaction), true when rows go (a gold recompute).
 */
export function removeAction(
  add: AddAction,
  dataChange: boolean,
  now: number = Date.now(),
): { remove: RemoveAction } {
  return {
    remove: {
      path: add.path,
      deletionTimestamp: now,
      dataChange,
      extendedFileMetadata: true,
      partitionValues: add.partitionValues,
      size: add.size,
    },
  };
}

/** Narrowing helpers, so callers avoid `in` checks scattered around. */
export function isAdd(a: Action): a is { add: AddAction } {
  return "add" in a;
}
/** True for a remove action. */
export function isRemove(a: Action): a is { remove: RemoveAction } {
  return "remove" in a;
}
/** True for a txn action. */
export function isTxn(a: Action): a is { txn: TxnAction } {
  return "txn" in a;
}
/** True for a metaData action. */
export function isMetadata(a: Action): a is { metaData: MetadataAction } {
  return "metaData" in a;
}
/** True for a protocol action. */
export function isProtocol(a: Action): a is { protocol: ProtocolAction } {
  return "protocol" in a;
}
/** True for a commitInfo action. */
export function isCommitInfo(a: Action): a is { commitInfo: CommitInfoAction } {
  return "commitInfo" in a;
}

/** Parsed `stats` of an add, as written by this layer and by Spark/delta-rs. */
export interface FileStats {
  numRecords: number;
  minValues?: Record<string, unknown>;
  maxValues?: Record<string, unknown>;
  nullCount?: Record<string, number>;
}

/** Parses add.stats; undefined when absent or malformed (stats are optional for readers). */
export function parseStats(add: AddAction): FileStats | undefined {
  if (!add.stats) return undefined;
  try {
    const s = JSON.parse(add.stats);
    return typeof s?.numRecords === "number" ? s as FileStats : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Milliseconds an add's stats say its timestamp `column` spans, or null without usable stats
 * (then the file may hold any time). Bounds are conservative (stats.ts rounds outward).
 */
export function timeRange(add: AddAction, column = "timestamp"): [number, number] | null {
  const s = parseStats(add);
  const lo = s?.minValues?.[column];
  const hi = s?.maxValues?.[column];
  if (typeof lo !== "string" || typeof hi !== "string") return null;
  const a = Date.parse(lo), b = Date.parse(hi);
  return Number.isFinite(a) && Number.isFinite(b) ? [a, b] : null;
}

/** Whether an add may hold timestamps in [from, to] (ms): by its stats, or always without them. */
export function mayHoldTime(
  add: AddAction,
  from: number,
  to = Infinity,
  column = "timestamp",
): boolean {
  const r = timeRange(add, column);
  return r === null || (r[1] >= from && r[0] <= to);
}
