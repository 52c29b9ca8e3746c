/**
 * `deno task ingest-files`: JSON files in sensor_data/ → bronze, silver, quarantine, each file
 * exactly once. One line per file on stderr (rows per table, rejects by reason, or why it was
 * skipped); a summary on stdout, for people or (`--format json`) as one JSON object.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  LAKEHOUSE_OPTION,
  numberOption,
  type OptionSpecs,
  parseCli,
  runMain,
  summaryJson,
  UsageError,
} from "../src/config.ts";
import { startTicker } from "../src/progress.ts";
import { INGEST_OPTIONS, ingestorOptions } from "../src/pipeline/cli_options.ts";
import {
  emptyPassSummary,
  type FilePassSummary,
  type FileReport,
  FileSource,
} from "../src/pipeline/sources/file.ts";
import { Ingestor } from "../src/pipeline/ingestor.ts";
import { openCatalogue, watchCatalogue } from "../src/pipeline/catalogue_watch.ts";
import { metricsAddress, metricsOptionSpecs } from "../src/metrics/options.ts";
import { serveIngestMetrics } from "../src/pipeline/ingest_metrics.ts";

export const OPTIONS = {
  ...LAKEHOUSE_OPTION,
  dir: {
    type: "string",
    env: "SENSOR_DATA_DIR",
    default: "./sensor_data",
    description: "Directory of .json / .ndjson / .jsonl files (searched recursively)",
  },
  watch: { type: "boolean", env: "INGEST_WATCH", description: "Keep watching for new files" },
  interval: {
    type: "string",
    env: "INGEST_WATCH_INTERVAL_S",
    default: "2",
    description: "Seconds between directory scans with --watch",
  },
  format: {
    type: "string",
    env: "INGEST_FORMAT",
    default: "table",
    description: "Summary on stdout: table (for people) or json (one object, per-file details)",
  },
  ...INGEST_OPTIONS,
  ...metricsOptionSpecs("INGEST"),
} as const satisfies OptionSpecs;

await runMain(async () => {
  const { options: o } = parseCli(Deno.args, OPTIONS, "Usage: deno task ingest-files [options]");
  const interval = numberOption("interval", o.interval, { min: 0.1 }) * 1000;
  if (o.format !== "table" && o.format !== "json") {
    throw new UsageError(`--format must be table or json, got "${o.format}"`);
  }
  try {
    if (!(await Deno.stat(o.dir)).isDirectory) throw new Error();
  } catch {
    throw new Error(`--dir ${o.dir} is not a readable directory`);
  }
  const metricsAt = metricsAddress(o);
  // A bad catalogue stops the task with FILE:LINE before anything is ingested.
  const sensors = await openCatalogue(o.sensors);
  const ingestor = await Ingestor.open({
    ...ingestorOptions(o, o.lakehouse, "ingest-files"),
    catalogue: sensors.catalogue,
  });
  // With --watch the catalogue is reloaded on SIGHUP and when its file changes.
  const watch = o.watch ? watchCatalogue(sensors.file, ingestor, (l) => console.error(l)) : null;
  const metrics = metricsAt && serveIngestMetrics(metricsAt, ingestor, {
    recordsMetric: "smarttech_ingest_files_records_total",
    maxLatencyMs: ingestor.policy.maxLatencyMs,
  });
  // A large directory takes a while before the first file's line (lines come once committed):
  // on a terminal a ticker counts the records read and the rows committed meanwhile.
  const ticker = startTicker(() => {
    const r = ingestor.totals.rows;
    return `ingest-files: ${ingestor.totals.records} records read, ` +
      `${r.bronze + r.silver + r.quarantine} rows committed …`;
  });
  const source = new FileSource(ingestor, { dir: o.dir, log: (l) => ticker.log(l) });
  let stop = false;
  const onSignal = () => {
    console.error("stopping after this pass …");
    stop = true;
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const { files: _, ...total } = emptyPassSummary();
  const add = (s: FilePassSummary) => {
    total.filesIngested += s.filesIngested;
    total.filesAppended += s.filesAppended;
    total.filesRewritten += s.filesRewritten;
    total.records += s.records;
  };
  const files: FileReport[] = [];
  try {
    do {
      let s = await source.pass(o.watch);
      files.push(...s.files);
      total.filesSeen = s.filesSeen;
      total.filesSkipped = s.filesSkipped;
      add(s);
      // One-shot: a file changed in the last second may still be being written. Wait for it to
      // settle (bounded) rather than leave it for a rerun the user would not know to do.
      for (let tries = 0; !o.watch && !stop && s.filesWaiting > 0 && tries < 30; tries++) {
        if (tries === 0) {
          console.error(`waiting for ${s.filesWaiting} file(s) changed in the last second …`);
        }
        await sleep(1000);
        s = await source.pass(false);
        files.push(...s.files.filter((f) => f.status === "ingested"));
        add(s);
      }
      total.filesWaiting = s.filesWaiting;
      if (!o.watch && s.filesWaiting > 0) {
        console.error(
          `${s.filesWaiting} file(s) still changing after 30 s, not ingested: rerun once they ` +
            "are complete, or use --watch",
        );
      }
      if (o.watch && !stop) await sleep(interval);
    } while (o.watch && !stop);
    await ingestor.close();
  } catch (err) {
    ingestor.abort();
    throw err;
  } finally {
    watch?.close();
    ticker.stop();
    await metrics?.close();
  }
  const summary = {
    ...total,
    rows: ingestor.totals.rows,
    duplicates: ingestor.totals.duplicates,
    compactions: ingestor.totals.compactions,
    filesCompacted: ingestor.totals.filesCompacted,
  };
  if (o.format === "json") {
    console.log(summaryJson({ ...summary, files }));
    return;
  }
  const rejected: Record<string, number> = {};
  for (const f of files) {
    for (const [k, n] of Object.entries(f.rejected)) rejected[k] = (rejected[k] ?? 0) + n;
  }
  const changes = summary.filesAppended || summary.filesRewritten
    ? ` (${summary.filesAppended} appended to, ${summary.filesRewritten} rewritten in place)`
    : "";
  const reasons = Object.entries(rejected).sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`).join(", ");
  console.log(
    [
      `files     ${summary.filesIngested} ingested${changes}, ${summary.filesSkipped} skipped, ` +
      `${summary.filesWaiting} still changing (of ${summary.filesSeen} seen)`,
      `rows      bronze ${summary.rows.bronze}, silver ${summary.rows.silver}, ` +
      `quarantine ${summary.rows.quarantine}${reasons ? ` (${reasons})` : ""}`,
      `duplicates ${summary.duplicates} (bronze only)`,
    ].join("\n"),
  );
});
