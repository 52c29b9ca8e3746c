/**
 * `deno task ingest-files`: JSON files in sensor_data/ → bronze, silver, quarantine, each file
 * exactly once.
 */
import {
  LAKEHOUSE_OPTION,
  numberOption,
  type OptionSpecs,
  parseCli,
  runMain,
} from "../src/config.ts";
import { INGEST_OPTIONS, ingestorOptions } from "../src/pipeline/cli_options.ts";
import { FileSource } from "../src/pipeline/file_source.ts";
import { Ingestor } from "../src/pipeline/ingestor.ts";

const OPTIONS = {
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
  ...INGEST_OPTIONS,
} as const satisfies OptionSpecs;

await runMain(async () => {
  const { options: o } = parseCli(Deno.args, OPTIONS, "Usage: deno task ingest-files [options]");
  const interval = numberOption("interval", o.interval, { min: 0.1 }) * 1000;
  try {
    if (!(await Deno.stat(o.dir)).isDirectory) throw new Error();
  } catch {
    throw new Error(`--dir ${o.dir} is not a readable directory`);
  }
  const ingestor = await Ingestor.open(ingestorOptions(o, o.lakehouse, "ingest-files"));
  const source = new FileSource(ingestor, { dir: o.dir });
  let stop = false;
  const onSignal = () => {
    console.error("stopping after this pass …");
    stop = true;
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const total = { filesSeen: 0, filesIngested: 0, filesSkipped: 0, records: 0 };
  try {
    do {
      const s = await source.pass(o.watch);
      total.filesSeen = s.filesSeen;
      total.filesIngested += s.filesIngested;
      total.filesSkipped = s.filesSkipped;
      total.records += s.records;
      if (o.watch && !stop) await new Promise((r) => setTimeout(r, interval));
    } while (o.watch && !stop);
    await ingestor.close();
  } catch (err) {
    ingestor.abort();
    throw err;
  }
  console.log(
    JSON.stringify({
      ...total,
      rows: ingestor.totals.rows,
      duplicates: ingestor.totals.duplicates,
    }),
  );
});
