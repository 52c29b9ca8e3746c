/**
 * What to read of a file this time, and under which identity (see positions.ts for the appId
 * formats). NDJSON files are logs that grow: a lineage `file:<path>#<hash of its first L
 * bytes>:<L>` (L: the length of its complete lines when first seen) is the same file as long as
 * those L bytes are unchanged, and its positions are line byte offsets, so an appended file
 * yields only the lines past its committed txn version (`appended`) and a file whose beginning
 * changed matches no lineage (`rewritten`: a new file). A last line without its newline whose
 * object has not closed waits for the rest (the appender is mid-line). A JSON array or
 * pretty-printed object is one record set identified by its whole content, positions being
 * element indexes: changed content is a new file.
 */
import { fileAppId, fileLineageAppId, fileLineageLength } from "../positions.ts";

/** Splits a file into record payloads: single object, array elements or NDJSON lines. */
export function splitRecords(bytes: Uint8Array): (Uint8Array | string)[] {
  let i = 0;
  while (
    i < bytes.length &&
    (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)
  ) i++;
  if (i === bytes.length) return [];
  if (bytes[i] === 0x5b /* [ */) {
    // An array: each element is one record (re-serialised: JSON has no element offsets).
    try {
      const arr = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
      if (Array.isArray(arr)) return arr.map((el) => JSON.stringify(el) ?? "null");
    } catch { /* a broken array is one bad record, below */ }
    return [bytes];
  }
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let j = 0; j <= bytes.length; j++) {
    if (j === bytes.length || bytes[j] === 0x0a) {
      let end = j;
      if (end > start && bytes[end - 1] === 0x0d) end--;
      const line = bytes.subarray(start, end);
      if (line.some((b) => b !== 0x20 && b !== 0x09)) lines.push(line);
      start = j + 1;
    }
  }
  // A pretty-printed single object spans lines: if the lines are not each JSON, try the whole.
  if (lines.length > 1 && bytes[i] === 0x7b /* { */) {
    try {
      JSON.parse(new TextDecoder().decode(lines[0]));
    } catch {
      try {
        const whole = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
        JSON.parse(whole);
        return [whole];
      } catch { /* really NDJSON with a bad first line */ }
    }
  }
  return lines;
}

/** True for bytes that `splitRecords` reads as one JSON value (array or pretty object). */
function isWholeValue(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && bytes[i] <= 0x20) i++;
  if (bytes[i] === 0x5b /* [ */) return true;
  const records = splitRecords(bytes);
  return records.length === 1 && typeof records[0] === "string";
}

/**
 * Whether an unterminated last line is still being written: a JSON object or array whose
 * brackets (outside strings) have not closed yet. A line that closed — even if it is not valid
 * JSON (NaN, a NUL byte, bad UTF-8) — is complete, and goes to quarantine like any bad line.
 */
function unfinished(tail: Uint8Array): boolean {
  let i = 0;
  while (i < tail.length && tail[i] <= 0x20) i++;
  if (i === tail.length || (tail[i] !== 0x7b && tail[i] !== 0x5b)) return false;
  let depth = 0, inString = false;
  for (; i < tail.length; i++) {
    const b = tail[i];
    if (inString) {
      if (b === 0x5c /* \ */) i++;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x7b || b === 0x5b) depth++;
    else if ((b === 0x7d || b === 0x5d) && --depth === 0) return false;
  }
  return true;
}

/** An NDJSON line: its bytes (CR stripped) and the offset where it starts. */
export interface NdjsonLine {
  offset: number;
  payload: Uint8Array;
}

/**
 * The complete lines of NDJSON `bytes` (blank ones skipped) and where they end: a last line
 * without its newline counts unless it is unfinished (an appender is mid-line).
 */
export function ndjsonLines(bytes: Uint8Array): { lines: NdjsonLine[]; end: number } {
  const lines: NdjsonLine[] = [];
  let start = 0;
  const push = (from: number, to: number) => {
    const line = bytes.subarray(from, to > from && bytes[to - 1] === 0x0d ? to - 1 : to);
    if (line.some((b) => b !== 0x20 && b !== 0x09)) lines.push({ offset: from, payload: line });
  };
  for (let j = 0; j < bytes.length; j++) {
    if (bytes[j] !== 0x0a) continue;
    push(start, j);
    start = j + 1;
  }
  if (start < bytes.length && !unfinished(bytes.subarray(start))) {
    push(start, bytes.length);
    start = bytes.length;
  }
  return { lines, end: start };
}

/** What a pass made of a file. */
export type FileChange = "new" | "appended" | "rewritten" | "unchanged";

/** The records of a file not yet ingested, and how the file changed since last seen. */
export interface FilePlan {
  appId: string;
  change: FileChange;
  records: { position: number; payload: Uint8Array | string }[];
  /** Bytes at the end held back: a last line still being written. */
  waitingBytes: number;
}

/**
 * Plans the ingestion of file `rel` with content `bytes` against the txn appIds the tables
 * hold (`known`) and where each resumes (`resume`: the next position to read).
 */
export function planFile(
  rel: string,
  bytes: Uint8Array,
  known: Iterable<string>,
  resume: (appId: string) => number,
): FilePlan {
  const seen = [...known].filter((id) => id.startsWith(`file:${rel}#`));
  if (isWholeValue(bytes)) {
    const appId = fileAppId(rel, bytes);
    const from = resume(appId);
    const records = splitRecords(bytes).map((payload, position) => ({ position, payload }))
      .slice(from);
    // Same content seen before with records left: a crash mid-file, resumed.
    const change = seen.includes(appId)
      ? (records.length ? "new" : "unchanged")
      : seen.length
      ? "rewritten"
      : "new";
    return { appId, change, records, waitingBytes: 0 };
  }
  const { lines, end } = ndjsonLines(bytes);
  let lineage: { appId: string; length: number } | undefined;
  for (const id of seen) {
    const length = fileLineageLength(id);
    if (length === null || length > end || (lineage && lineage.length >= length)) continue;
    if (fileLineageAppId(rel, bytes.subarray(0, length)) === id) lineage = { appId: id, length };
  }
  const waitingBytes = bytes.length - end;
  if (!lineage) {
    // Before lineages, an NDJSON file was identified by its whole content, positions by index.
    const legacy = fileAppId(rel, bytes);
    if (seen.includes(legacy)) {
      const from = resume(legacy);
      const records = lines.slice(from).map((l, i) => ({ position: from + i, payload: l.payload }));
      return {
        appId: legacy,
        change: records.length ? "appended" : "unchanged",
        records,
        waitingBytes,
      };
    }
    const appId = fileLineageAppId(rel, bytes.subarray(0, end));
    const records = lines.map((l) => ({ position: l.offset, payload: l.payload }));
    return { appId, change: seen.length ? "rewritten" : "new", records, waitingBytes };
  }
  const from = resume(lineage.appId);
  const records = lines.filter((l) => l.offset >= from)
    .map((l) => ({ position: l.offset, payload: l.payload }));
  return {
    appId: lineage.appId,
    change: records.length ? "appended" : "unchanged",
    records,
    waitingBytes,
  };
}
