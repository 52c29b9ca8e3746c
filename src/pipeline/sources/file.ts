/**
 * JSON files dropped in a directory → the same decode path and tables as Kafka.
 *
 * What is read of each file, and under which txn appId, is file_plan.ts's business: an NDJSON
 * file that grew yields only its new complete lines, a file rewritten in place is a new file,
 * a rerun ingests nothing twice and a crash mid-file resumes after the last committed record.
 * Files are read only once stable (unchanged size and mtime across two looks, or older than
 * `settleMs`), so a file still being copied in is not ingested half-way — writers should still
 * prefer write-then-rename.
 *
 * Formats: one JSON object, a JSON array of objects, or NDJSON (one record per line; blank lines
 * skipped). A line or element that is bad goes to quarantine; the good ones still land.
 */
import { join, relative } from "node:path";
import type { AppCounts, SourceRecord } from "../batch.ts";
import type { Ingestor } from "../ingestor.ts";
import { type FileChange, planFile } from "./file_plan.ts";

export { splitRecords } from "./file_plan.ts";

const EXTENSIONS = [".json", ".ndjson", ".jsonl"];

export interface FileSourceOptions {
  dir: string;
  /** A file younger than this (mtime) is not read in one-shot mode, ms (default 1000). */
  settleMs?: number;
  log?: (line: string) => void;
}

export interface FilePassSummary {
  filesSeen: number;
  /** Files with records ingested in this pass; of them, appended to and rewritten in place. */
  filesIngested: number;
  filesAppended: number;
  filesRewritten: number;
  filesSkipped: number;
  filesWaiting: number;
  records: number;
  /** Each file ingested or skipped in this pass (not the ones still waiting to settle). */
  files: FileReport[];
}

/** A pass that has seen nothing yet (also the start of a running total over passes). */
export function emptyPassSummary(): FilePassSummary {
  return {
    filesSeen: 0,
    filesIngested: 0,
    filesAppended: 0,
    filesRewritten: 0,
    filesSkipped: 0,
    filesWaiting: 0,
    records: 0,
    files: [],
  };
}

/** One record of file `rel` (stream `appId`) at `position`, as sources hand them to an Ingestor. */
export function fileRecord(
  appId: string,
  rel: string,
  position: number,
  payload: Uint8Array | string,
): SourceRecord {
  return {
    appId,
    position,
    source: "file",
    topic: null,
    partition: null,
    key: null,
    kafkaTimestampMs: null,
    file: rel,
    payload,
  };
}

/** What became of one file in a pass. */
export interface FileReport {
  file: string;
  status: "ingested" | "skipped";
  /** Why a file was skipped (already ingested, empty, unreadable). */
  reason?: string;
  /** An ingested file: new, grown since last read (only its new lines), or rewritten in place. */
  change?: Exclude<FileChange, "unchanged">;
  /** Bytes at its end not read yet: a last line still being written. */
  waitingBytes?: number;
  /** Records read from it this time (a resumed file: only those after the last commit). */
  records: number;
  /** Rows written per table. */
  rows: { bronze: number; silver: number; quarantine: number };
  duplicates: number;
  /** Quarantined records by reason. */
  rejected: Record<string, number>;
}

/** One line for people: `a.ndjson: 120 records → silver 110, quarantine 8 (bad_json 8), …`. */
export function describeFileReport(r: FileReport): string {
  if (r.status === "skipped") return `skipped ${r.file}: ${r.reason}`;
  const reasons = Object.entries(r.rejected).sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`).join(", ");
  const how = r.change === "appended"
    ? " (appended: new lines only)"
    : r.change === "rewritten"
    ? " (rewritten in place: a new file)"
    : "";
  const waiting = r.waitingBytes ? `; a last line of ${r.waitingBytes} bytes waits` : "";
  return `ingested ${r.file}${how}: ${r.records} record(s) → bronze ${r.rows.bronze}, silver ${r.rows.silver}, quarantine ${r.rows.quarantine}${
    reasons ? ` (${reasons})` : ""
  }${r.duplicates ? `, ${r.duplicates} duplicate(s) (bronze only)` : ""}${waiting}`;
}

interface FileEntry {
  rel: string;
  abs: string;
  size: number;
  mtime: number;
}

async function listFiles(dir: string, root = dir): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".") || e.name.startsWith("_")) continue;
    const abs = join(dir, e.name);
    if (e.isDirectory) out.push(...await listFiles(abs, root));
    else if (e.isFile && EXTENSIONS.some((x) => e.name.toLowerCase().endsWith(x))) {
      const st = await Deno.stat(abs);
      out.push({ rel: relative(root, abs), abs, size: st.size, mtime: st.mtime?.getTime() ?? 0 });
    }
  }
  return out.sort((a, b) => a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0);
}

/** Reads files and feeds them to the ingestor; remembers sizes to detect files in flight. */
export class FileSource {
  readonly #lastLook = new Map<string, string>();
  /** What each file (by appId) of the current pass contributed to the flushes so far. */
  readonly #counts = new Map<string, AppCounts>();
  /** Files already reported as skipped, so --watch names each once, not every pass. */
  readonly #toldSkipped = new Set<string>();

  constructor(readonly ingestor: Ingestor, readonly opts: FileSourceOptions) {
    ingestor.onCommittedCounts = (counts) => {
      for (const [appId, c] of counts) {
        const sum = this.#counts.get(appId);
        if (!sum) {
          this.#counts.set(appId, { ...c, rejected: { ...c.rejected } });
          continue;
        }
        sum.records += c.records;
        sum.valid += c.valid;
        sum.duplicates += c.duplicates;
        for (const [k, n] of Object.entries(c.rejected)) {
          sum.rejected[k] = (sum.rejected[k] ?? 0) + n;
        }
      }
    };
  }

  /**
   * One pass over the directory. `requireStableLook` (watch mode) waits for a file to look the
   * same twice; otherwise a file must be older than settleMs.
   */
  async pass(requireStableLook = false): Promise<FilePassSummary> {
    const log = this.opts.log ?? ((l: string) => console.error(l));
    const s = emptyPassSummary();
    const skipped = (rel: string, reason: string) => {
      s.filesSkipped++;
      if (this.#toldSkipped.has(rel)) return;
      this.#toldSkipped.add(rel);
      const report: FileReport = {
        file: rel,
        status: "skipped",
        reason,
        records: 0,
        rows: { bronze: 0, silver: 0, quarantine: 0 },
        duplicates: 0,
        rejected: {},
      };
      s.files.push(report);
      log(describeFileReport(report));
    };
    const ingested: {
      rel: string;
      appId: string;
      change: Exclude<FileChange, "unchanged">;
      waitingBytes: number;
    }[] = [];
    this.#counts.clear();
    const now = Date.now();
    for (const f of await listFiles(this.opts.dir)) {
      s.filesSeen++;
      const look = `${f.size}:${f.mtime}`;
      const prev = this.#lastLook.get(f.rel);
      this.#lastLook.set(f.rel, look);
      const stable = requireStableLook
        ? prev === look
        : now - f.mtime >= (this.opts.settleMs ?? 1000);
      if (!stable) {
        s.filesWaiting++;
        continue;
      }
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(f.abs);
      } catch (err) {
        skipped(f.rel, `unreadable (${(err as Error).message})`);
        continue;
      }
      const plan = planFile(
        f.rel,
        bytes,
        this.ingestor.writer.knownAppIds(`file:${f.rel}#`),
        (appId) => this.ingestor.resumePosition(appId),
      );
      if (plan.change === "unchanged" || plan.records.length === 0) {
        skipped(
          f.rel,
          plan.change === "unchanged"
            ? "already ingested (same path and content)"
            : plan.waitingBytes
            ? `only an incomplete last line (${plan.waitingBytes} bytes)`
            : "no records in it",
        );
        continue;
      }
      const records = plan.records.map(({ position, payload }) =>
        fileRecord(plan.appId, f.rel, position, payload)
      );
      await this.ingestor.exclusive(() => this.ingestor.addAll(records));
      s.filesIngested++;
      if (plan.change === "appended") s.filesAppended++;
      if (plan.change === "rewritten") s.filesRewritten++;
      s.records += records.length;
      this.#toldSkipped.delete(f.rel);
      ingested.push({
        rel: f.rel,
        appId: plan.appId,
        change: plan.change,
        waitingBytes: plan.waitingBytes,
      });
    }
    await this.ingestor.exclusive(() => this.ingestor.flushNow());
    // Reported once committed, so the figures are what the tables hold.
    for (const { rel, appId, change, waitingBytes } of ingested) {
      const c = this.#counts.get(appId) ?? { records: 0, valid: 0, duplicates: 0, rejected: {} };
      const quarantine = Object.values(c.rejected).reduce((a, b) => a + b, 0);
      const report: FileReport = {
        file: rel,
        status: "ingested",
        change,
        ...(waitingBytes ? { waitingBytes } : {}),
        records: c.records,
        rows: { bronze: c.records, silver: c.valid, quarantine },
        duplicates: c.duplicates,
        rejected: c.rejected,
      };
      s.files.push(report);
      log(describeFileReport(report));
    }
    this.#counts.clear();
    return s;
  }
}
