/**
 * `deno task demo`: the main job end to end — simulate → Kafka → bronze/silver/quarantine →
 * gold → report. Starts a local broker when none answers (and stops it after).
 */
import {
  brokerList,
  COMMON_OPTIONS,
  numberOption,
  type OptionSpecs,
  parseCli,
  runMain,
  UsageError,
} from "../src/config.ts";
import { runDemo } from "../src/demo.ts";
import { openCatalogue } from "../src/pipeline/catalogue_watch.ts";
import { SENSORS_OPTION } from "../src/reading/catalogue_file.ts";
import { existingLakehouseTables, removeLakehouseTables } from "../src/pipeline/tables.ts";

/** The demo's world: the repository's four types plus pm25 (simulated, alarmed). */
const DEMO_SENSORS_FILE = new URL("../examples/sensors_demo.yaml", import.meta.url).pathname;

export const OPTIONS = {
  brokers: COMMON_OPTIONS.brokers,
  lakehouse: COMMON_OPTIONS.lakehouse,
  hours: { type: "string", env: "DEMO_HOURS", default: "3", description: "Simulated hours" },
  buildings: { type: "string", env: "DEMO_BUILDINGS", default: "3", description: "Buildings" },
  floors: { type: "string", env: "DEMO_FLOORS", default: "4", description: "Floors per building" },
  interval: {
    type: "string",
    env: "DEMO_INTERVAL_S",
    default: "10",
    description: "Seconds of event time between two readings of a device",
  },
  seed: { type: "string", env: "DEMO_SEED", default: "7", description: "Simulator seed" },
  faults: {
    type: "string",
    env: "DEMO_FAULTS",
    default: "chaos",
    description: "Fault profile: none, light, chaos, data, anomalies",
  },
  sensors: {
    ...SENSORS_OPTION,
    default: DEMO_SENSORS_FILE,
    description:
      "Sensor catalogue of the demo (default examples/sensors_demo.yaml: the brief's four types and pm25)",
  },
  reset: {
    type: "boolean",
    env: "DEMO_RESET",
    description:
      "Delete the lakehouse's tables first (bronze, silver, quarantine, gold/); without it the demo refuses a lakehouse that holds them",
  },
} as const satisfies OptionSpecs;

await runMain(async () => {
  const { options: o } = parseCli(Deno.args, OPTIONS, "Usage: deno task demo [options]");
  // The catalogue first: a bad file stops the demo before it touches the lakehouse.
  const { catalogue } = await openCatalogue(o.sensors);
  if (o.reset) await removeLakehouseTables(o.lakehouse);
  else {
    // A second run on the same tables would mix two runs: the report would score both.
    const found = await existingLakehouseTables(o.lakehouse);
    if (found.length > 0) {
      throw new UsageError(
        `lakehouse ${o.lakehouse} already holds ${found.join(", ")} from an earlier run; ` +
          `pass --reset to delete those tables first, or choose another --lakehouse`,
      );
    }
  }
  const report = await runDemo({
    brokers: brokerList(o.brokers),
    lakehouse: o.lakehouse,
    hours: numberOption("hours", o.hours, { min: 0.1 }),
    buildings: numberOption("buildings", o.buildings, { integer: true, min: 1 }),
    floors: numberOption("floors", o.floors, { integer: true, min: 1 }),
    intervalSeconds: numberOption("interval", o.interval, { min: 0.1 }),
    seed: numberOption("seed", o.seed, { integer: true }),
    faults: o.faults,
    catalogue,
    log: (line) => console.error(line),
  });
  console.log(report.text);
});
