/**
 * Source positions as the Delta log stores them: one txn action per source coordinate, whose
 * appId names the coordinate and whose version is the last position written there. The log is
 * the only place positions are true (Kafka's committed group offsets are informational), so
 * the appId format is a storage format: what is built here is read back from every table
 * already written, and must not change.
 *
 * - a Kafka partition: `<app>-<topic>-<partition>`, version = last offset written;
 * - a JSON array or object file: `file:<path>#<sha256 prefix of its content>`, version = index
 *   of the last record;
 * - an NDJSON file: `file:<path>#<sha256 prefix of its first L bytes>:<L>`, version = byte offset
 *   of the last line (see fileLineageAppId; files ingested before lineages keep the form above).
 */
import { createHash } from "node:crypto";
import type { Snapshot } from "../delta/snapshot.ts";

/** appId of a topic-partition in the Delta txn actions (`<app>-<topic>-<partition>`). */
export function partitionAppId(appName: string, topic: string, partition: number): string {
  return `${appName}-${topic}-${partition}`;
}

/**
 * The partition `appId` names when it is a partition appId of `appName` and `topic`, else null
 * (a file's appId, another app's or topic's). Names may hold `-`, so the app and topic are
 * given, never guessed from the string.
 */
export function partitionOfAppId(appId: string, appName: string, topic: string): number | null {
  const prefix = `${appName}-${topic}-`;
  if (!appId.startsWith(prefix)) return null;
  const rest = appId.slice(prefix.length);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : null;
}

/**
 * appId of a file: its path relative to the watched directory plus a hash of its content, so a
 * file replaced by new content under the same name counts as a new file.
 */
export function fileAppId(relativePath: string, content: Uint8Array): string {
  const hash = createHash("sha256").update(content).digest("hex").slice(0, 16);
  return `file:${relativePath}#${hash}`;
}

/** One past the smallest txn version of `appId` over the snapshots (0 when one lacks it). */
export function resumeFromSnapshots(snapshots: Iterable<Snapshot>, appId: string): number {
  let min = Infinity;
  for (const s of snapshots) min = Math.min(min, s.txnVersion(appId) ?? -1);
  return min === Infinity ? 0 : min + 1;
}

/**
 * appId of an NDJSON file's lineage: its path plus the length L of its complete lines when first
 * seen and a hash of those L bytes (`file:<path>#<sha256 prefix>:<L>`), version = byte offset
 * of the last line written. The file stays the same lineage while its first L bytes do, so
 * lines appended later continue it.
 */
export function fileLineageAppId(relativePath: string, prefix: Uint8Array): string {
  const hash = createHash("sha256").update(prefix).digest("hex").slice(0, 16);
  return `file:${relativePath}#${hash}:${prefix.length}`;
}

/** The prefix length a lineage appId names, or null for any other appId. */
export function fileLineageLength(appId: string): number | null {
  const m = /#[0-9a-f]{16}:(0|[1-9][0-9]*)$/.exec(appId);
  return m ? Number(m[1]) : null;
}
