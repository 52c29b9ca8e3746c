/**
 * `deno task score --truth FILE [--lakehouse DIR] [--tolerance S] [--format json]` — how well the
 * lakehouse's incidents (and alarm episodes) found the anomalies a simulator run injected
 * (`deno task produce --truth FILE`, or the demo's `_demo_truth.ndjson`): recall and false
 * incidents. Build gold first (`deno task gold`). All logic lives in src/simulator/scoring.ts.
 */
import {
  LAKEHOUSE_OPTION,
  numberOption,
  outputFormat,
  parseCli,
  resolveLakehouse,
  runMain,
  summaryJson,
  UsageError,
} from "../src/config.ts";
import { TableNotFoundError } from "../src/delta/errors.ts";
import { openCatalogue } from "../src/pipeline/catalogue_watch.ts";
import { SENSORS_OPTION } from "../src/reading/catalogue_file.ts";
import { typeNames } from "../src/reading/catalogue.ts";
import {
  countByType,
  detectionReport,
  readAlarms,
  readIncidents,
  readTruth,
  scoreAlarms,
  scoreIncidents,
} from "../src/simulator/scoring.ts";

const USAGE =
  "Usage: deno task score --truth FILE [--lakehouse DIR] [--tolerance S] [--format table|json] [--sensors FILE]";

export const SPECS = {
  ...LAKEHOUSE_OPTION,
  sensors: SENSORS_OPTION,
  truth: {
    type: "string",
    env: "SCORE_TRUTH",
    description: "Truth NDJSON of injected episodes (produce --truth)",
  },
  tolerance: {
    type: "string",
    env: "SCORE_TOLERANCE",
    default: "60",
    description: "Seconds of slack on both sides of an episode when matching",
  },
  format: {
    type: "string",
    env: "SCORE_FORMAT",
    default: "table",
    description: "Output format: table, or json (the scores with missed and false lists)",
  },
  json: {
    type: "boolean",
    env: "SCORE_JSON",
    description: "Deprecated alias of --format json (still accepted, with a warning)",
  },
} as const;

async function main(): Promise<void> {
  const { options, positionals } = parseCli(Deno.args, SPECS, USAGE);
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"\n\n${USAGE}`);
  }
  if (!options.truth) throw new UsageError(`--truth FILE is required\n\n${USAGE}`);
  const format = outputFormat(options.format, ["table", "json"], options.json);
  const toleranceMs = 1000 * numberOption("tolerance", options.tolerance, { min: 0 });
  const lakehouse = await resolveLakehouse(options.lakehouse);
  const { catalogue } = await openCatalogue(options.sensors);
  const truth = await readTruth(options.truth);
  let incidents, alarms, byType;
  try {
    const found = await readIncidents(lakehouse);
    byType = countByType(found, typeNames(catalogue));
    incidents = scoreIncidents(found, truth, { toleranceMs });
    alarms = scoreAlarms(await readAlarms(lakehouse), truth, { toleranceMs });
  } catch (err) {
    if (err instanceof TableNotFoundError) {
      throw new Error(
        `${lakehouse} has no gold incidents or alarms yet: run deno task gold --lakehouse ${options.lakehouse}`,
      );
    }
    throw err;
  }
  if (format === "json") {
    console.log(
      summaryJson({ incidents, alarms, incidentsByType: Object.fromEntries(byType) }, 2),
    );
  } else console.log(detectionReport(incidents, alarms, byType));
}

if (import.meta.main) await runMain(main);
