/**
 * `deno task replay --reason R [--since TIME] [--sensors FILE] [--lakehouse L]` — re-decode the
 * quarantined payloads of reason R under the current sensor catalogue and move the readings
 * now valid into silver, exactly once (rerunning adds nothing; a kill mid-way is repaired by
 * the next run). Summary on stdout, progress on stderr; docs/sensors.md has a worked example.
 * All logic lives in src/pipeline/replay.ts.
 */
import {
  LAKEHOUSE_OPTION,
  numberOption,
  outputFormat,
  parseCli,
  parseInstant,
  readEnv,
  resolveLakehouse,
  runMain,
  summaryJson,
  UsageError,
} from "../src/config.ts";
import { TableNotFoundError } from "../src/delta/errors.ts";
import { INGEST_OPTIONS } from "../src/pipeline/cli_options.ts";
import { formatReplaySummary, replayQuarantine } from "../src/pipeline/replay.ts";
import { CatalogueError, resolveCatalogue, SENSORS_OPTION } from "../src/reading/catalogue_file.ts";

const USAGE =
  "Usage: deno task replay --reason REASON [--since ISO-TIME] [--sensors FILE] [--lakehouse DIR] [--format table|json]";

export const SPECS = {
  ...LAKEHOUSE_OPTION,
  sensors: SENSORS_OPTION,
  reason: {
    type: "string",
    env: "REPLAY_REASON",
    description: "Quarantine reason to replay, exactly as stored (e.g. unknown_type)",
  },
  since: {
    type: "string",
    env: "REPLAY_SINCE",
    description: "Only rows quarantined at or after this ISO-8601 time (UTC without a zone)",
  },
  "max-payload-bytes": INGEST_OPTIONS["max-payload-bytes"],
  "future-tolerance": INGEST_OPTIONS["future-tolerance"],
  format: {
    type: "string",
    env: "REPLAY_FORMAT",
    default: "table",
    description: "Output format: table (a summary for people) or json",
  },
  json: {
    type: "boolean",
    env: "REPLAY_JSON",
    description: "Deprecated alias of --format json (still accepted, with a warning)",
  },
} as const;

/**
 * Test-only fault: `REPLAY_FAULT=kill-after-silver` SIGKILLs the process between the silver
 * commit and the quarantine cleanup (tests/replay_test.ts shows the next run repairs it).
 */
function faultHook(): (() => void) | undefined {
  if (readEnv("REPLAY_FAULT") !== "kill-after-silver") return undefined;
  return () => Deno.kill(Deno.pid, "SIGKILL");
}

async function main(): Promise<number> {
  const { options, positionals } = parseCli(Deno.args, SPECS, USAGE);
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"\n\n${USAGE}`);
  }
  if (!options.reason) throw new UsageError(`--reason is required\n\n${USAGE}`);
  const format = outputFormat(options.format, ["table", "json"], options.json);
  const since = options.since ? parseInstant(options.since, "--since") : undefined;
  const lakehouse = await resolveLakehouse(options.lakehouse);
  let catalogue;
  try {
    catalogue = await resolveCatalogue(options.sensors);
  } catch (err) {
    if (!(err instanceof CatalogueError)) throw err;
    console.error(`error: ${err.message}`);
    return 2;
  }
  console.error(`replay: catalogue ${catalogue.source} (${catalogue.types.size} types)`);
  try {
    const summary = await replayQuarantine({
      lakehouse,
      reason: options.reason,
      since,
      catalogue,
      maxPayloadBytes: numberOption("max-payload-bytes", options["max-payload-bytes"], {
        integer: true,
        min: 1024,
      }),
      futureToleranceMs: 1000 *
        numberOption("future-tolerance", options["future-tolerance"], { min: 0 }),
      onProgress: (m) => console.error(m),
      afterSilverCommit: faultHook(),
    });
    console.log(format === "json" ? summaryJson(summary) : formatReplaySummary(summary));
    return 0;
  } catch (err) {
    if (err instanceof TableNotFoundError) {
      throw new Error(`${err.message}: nothing was ingested into ${lakehouse} yet`);
    }
    throw err;
  }
}

await runMain(main);
