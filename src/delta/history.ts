/**
 * Table history from the commitInfo of each commit, newest first.
 */
import { isCommitInfo } from "./actions.ts";
import { TableNotFoundError } from "./errors.ts";
import { listLog, readCommit } from "./log.ts";
import { commitTimestampOf } from "./snapshot.ts";

/** One entry of the history. */
export interface HistoryEntry {
  version: number;
  /** Commit time, ms since epoch (commitInfo.timestamp, else the file's mtime). */
  timestamp: number;
  operation?: string;
  operationParameters?: Record<string, unknown>;
  operationMetrics?: Record<string, number | string>;
  engineInfo?: string;
  isBlindAppend?: boolean;
  readVersion?: number;
}

/** Reads the newest `limit` commits' provenance (all when omitted). */
export async function history(
  path: string,
  opts: { limit?: number } = {},
): Promise<HistoryEntry[]> {
  const { commits } = await listLog(path);
  if (commits.length === 0) throw new TableNotFoundError(path);
  const versions = commits.slice(-(opts.limit ?? commits.length)).reverse();
  return await Promise.all(versions.map(async (version) => {
    const info = (await readCommit(path, version)).find(isCommitInfo)?.commitInfo;
    const timestamp = typeof info?.timestamp === "number"
      ? info.timestamp
      : await commitTimestampOf(path, version, []);
    return {
      version,
      timestamp,
      operation: info?.operation,
      operationParameters: info?.operationParameters,
      operationMetrics: info?.operationMetrics,
      engineInfo: info?.engineInfo,
      isBlindAppend: info?.isBlindAppend,
      readVersion: info?.readVersion,
    };
  }));
}
