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
import { FileSource } from "../src/pipeline/sources/file.ts";
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
  const total = { filesSeen: 0, filesIngested: 0, filesSkipped: 0, filesWaiting: 0, records: 0 };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    do {
      let s = await source.pass(o.watch);
      total.filesSeen = s.filesSeen;
      total.filesIngested += s.filesIngested;
      total.filesSkipped = s.filesSkipped;
      total.records += s.records;
      // One-shot: a file changed in the last second may still be being written. Wait for it to
      // settle (bounded) rather than leave it for a rerun the user would not know to do.
      for (let tries = 0; !o.watch && !stop && s.filesWaiting > 0 && tries < 30; tries++) {
        if (tries === 0) {
          console.error(`waiting for ${s.filesWaiting} file(s) changed in the last second …`);
        }
        await sleep(1000);
        s = await source.pass(false);
        total.filesIngested += s.filesIngested;
        total.records += s.records;
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
  }
  console.log(
    JSON.stringify({
      ...total,
      rows: ingestor.totals.rows,
      duplicates: ingestor.totals.duplicates,
      compactions: ingestor.totals.compactions,
      filesCompacted: ingestor.totals.filesCompacted,
    }),
  );
});
