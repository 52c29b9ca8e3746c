/**
 * `deno task chaos`: the long form of the fault tests (the short form runs in the suite,
 * tests/chaos_test.ts). Same scenarios, at full size:
 *
 * - kill: SIGKILL `consume` at seeded random moments (default 12 times over 500k messages),
 *   then catch up and check every version of the three tables;
 * - group: three consumers in one group with optimize running on bronze and silver, one
 *   SIGKILLed mid-way;
 * - outage: our own broker (another port; the shared one is never touched) stopped for 20 s
 *   mid-stream while the producer and the consumer keep running;
 * - readonly: the lakehouse made read-only mid-stream (a read-only bind mount or chattr +i,
 *   whichever denies writes to root here), then writable again;
 * - s3-restart: a throw-away S3 server SIGKILLed mid-ingest into s3:// and restarted 10 s later;
 * - s3-put-kill: consume killed while a `_delta_log` entry's PUT to S3 is in flight;
 * - split-commit: consume killed between a flush's silver and bronze commits, locally and on S3.
 *   The last two land through the test-only fault point (SMARTTECH_FAULT, src/fault_point.ts).
 *
 * Progress and a per-scenario report go to stderr; a JSON summary with the closing-note
 * figures (kills survived, messages lost, duplicates, versions read) to stdout. Exits 1 when
 * any guarantee broke.
 */
import {
  brokerList,
  numberOption,
  type OptionSpecs,
  parseCli,
  runMain,
  UsageError,
} from "../src/config.ts";
import { useOrStartBroker } from "../src/kafka/local_broker.ts";
import { groupScenario, killScenario, outageScenario } from "../src/chaos/scenarios.ts";
import {
  detectReadOnlyMethod,
  type ReadOnlyMethod,
  readOnlyScenario,
} from "../src/chaos/read_only.ts";
import { formatReport, type ScenarioReport } from "../src/chaos/report.ts";
import {
  freeS3Port,
  putKillScenario,
  s3RestartScenario,
  splitCommitScenario,
  startThrowAwayS3,
  type ThrowAwayS3,
} from "../src/chaos/storage_faults.ts";

const SCENARIOS = [
  "kill",
  "group",
  "outage",
  "readonly",
  "s3-restart",
  "s3-put-kill",
  "split-commit",
] as const;
const ON_S3 = ["s3-restart", "s3-put-kill", "split-commit"];

export const OPTIONS = {
  brokers: {
    type: "string",
    env: "KAFKA_BROKERS",
    default: "127.0.0.1:9092",
    description: "Broker for the kill, group and readonly scenarios (a local test broker)",
  },
  scenarios: {
    type: "string",
    env: "CHAOS_SCENARIOS",
    default: SCENARIOS.join(","),
    description: `Comma-separated subset of ${SCENARIOS.join(", ")}`,
  },
  messages: {
    type: "string",
    env: "CHAOS_MESSAGES",
    default: "500000",
    description: "Messages of the kill scenario (seeded mix with faults)",
  },
  kills: {
    type: "string",
    env: "CHAOS_KILLS",
    default: "12",
    description: "SIGKILLs in the kill scenario (at least 10 for the issue's figure)",
  },
  "max-rows": {
    type: "string",
    env: "CHAOS_MAX_ROWS",
    default: "5000",
    description: "--max-rows of the killed consumers: smaller means more commits to land in",
  },
  "group-messages": {
    type: "string",
    env: "CHAOS_GROUP_MESSAGES",
    default: "200000",
    description: "Messages of the group + optimize scenario",
  },
  "outage-messages": {
    type: "string",
    env: "CHAOS_OUTAGE_MESSAGES",
    default: "150000",
    description: "Messages of the broker-outage scenario",
  },
  "outage-s": {
    type: "string",
    env: "CHAOS_OUTAGE_S",
    default: "20",
    description: "Seconds the broker stays down",
  },
  "outage-rate": {
    type: "string",
    env: "CHAOS_OUTAGE_RATE",
    default: "5000",
    description: "Producer rate (msgs/s) in the outage scenario, so production spans it",
  },
  "outage-port": {
    type: "string",
    env: "CHAOS_OUTAGE_PORT",
    default: "19092",
    description: "Port of the scenario's own broker (controller on port + 1); never 9092",
  },
  "broker-signal": {
    type: "string",
    env: "CHAOS_BROKER_SIGNAL",
    default: "SIGTERM",
    description: "How the broker is stopped: SIGTERM (clean shutdown) or SIGKILL (crash)",
  },
  "ro-messages": {
    type: "string",
    env: "CHAOS_RO_MESSAGES",
    default: "100000",
    description: "Messages of the read-only scenario",
  },
  "ro-method": {
    type: "string",
    env: "CHAOS_RO_METHOD",
    default: "auto",
    description: "auto, bind-mount or chattr: how the lakehouse is made read-only",
  },
  "version-sample": {
    type: "string",
    env: "CHAOS_VERSION_SAMPLE",
    default: "0",
    description: "Table versions read back per table (0: every version)",
  },
  "s3-messages": {
    type: "string",
    env: "CHAOS_S3_MESSAGES",
    default: "100000",
    description: "Messages of each of s3-restart, s3-put-kill and split-commit",
  },
  "s3-down-s": {
    type: "string",
    env: "CHAOS_S3_DOWN_S",
    default: "10",
    description: "Seconds the S3 server stays down in s3-restart",
  },
  "s3-port": {
    type: "string",
    env: "CHAOS_S3_PORT",
    default: "auto",
    description: "Port of the throw-away S3 server (auto: the first free one in 19001-19050)",
  },
  "fault-kills": {
    type: "string",
    env: "CHAOS_FAULT_KILLS",
    default: "6",
    description: "Kills at the fault point in s3-put-kill and in each run of split-commit",
  },
  seed: { type: "string", env: "CHAOS_SEED", default: "8", description: "Seed of kill moments" },
  keep: { type: "boolean", description: "Keep the scenario lakehouses (paths are printed)" },
  verbose: { type: "boolean", short: "v", description: "Show the consumers' stderr live" },
} as const satisfies OptionSpecs;

await runMain(async () => {
  const { options: o } = parseCli(Deno.args, OPTIONS, "Usage: deno task chaos [options]");
  const int = (name: keyof typeof OPTIONS, min: number) =>
    numberOption(name, o[name] as string, { integer: true, min });
  const chosen = o.scenarios.split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of chosen) {
    if (!(SCENARIOS as readonly string[]).includes(s)) {
      throw new UsageError(`--scenarios: unknown "${s}" (choose from ${SCENARIOS.join(", ")})`);
    }
  }
  const [brokers] = brokerList(o.brokers);
  const port = int("outage-port", 1024);
  const clash = `127.0.0.1:${port}` === brokers || port === 9092 || port + 1 === 9092;
  if (chosen.includes("outage") && clash) {
    throw new UsageError(`--outage-port ${port} would stop a broker others use; pick another`);
  }
  if (o["broker-signal"] !== "SIGTERM" && o["broker-signal"] !== "SIGKILL") {
    throw new UsageError(`--broker-signal must be SIGTERM or SIGKILL, got ${o["broker-signal"]}`);
  }
  if (!["auto", "bind-mount", "chattr"].includes(o["ro-method"])) {
    throw new UsageError(`--ro-method must be auto, bind-mount or chattr`);
  }
  const seed = int("seed", 0);
  const sample = int("version-sample", 0) || undefined;
  const log = (l: string) => console.error(l);
  const common = { seed, versionSample: sample, log, keep: o.keep };
  const reports: ScenarioReport[] = [];
  const skipped: Record<string, string> = {};
  const t0 = performance.now();
  // kill, group and readonly share a broker: the one that answers, else a throw-away one.
  const shared = chosen.some((s) => s !== "outage")
    ? await useOrStartBroker([brokers], { stateDir: ".cache/kafka/chaos", log, graceMs: 15_000 })
    : null;
  if (shared?.started) log(`started a throw-away Kafka broker at ${brokers} for the scenarios`);
  let s3: ThrowAwayS3 | null = null;
  try {
    if (chosen.some((s) => ON_S3.includes(s))) {
      const s3Port = o["s3-port"] === "auto" ? freeS3Port() : int("s3-port", 1024);
      s3 = await startThrowAwayS3(s3Port, log);
      log(`started a throw-away S3 server at 127.0.0.1:${s3Port} for the S3 scenarios`);
    }
    for (const s of chosen) {
      log(`— ${s} —`);
      let r: ScenarioReport;
      const faults = {
        ...common,
        brokers,
        messages: int("s3-messages", 1000),
        maxRows: int("max-rows", 100),
        kills: int("fault-kills", 1),
      };
      if (s === "s3-restart") {
        r = await s3RestartScenario({
          ...faults,
          s3: s3!,
          downMs: numberOption("s3-down-s", o["s3-down-s"], { min: 1 }) * 1000,
        });
      } else if (s === "s3-put-kill") {
        r = await putKillScenario({ ...faults, s3Root: s3!.root });
      } else if (s === "split-commit") {
        const local = await splitCommitScenario(faults);
        log(formatReport(local));
        reports.push(local);
        r = await splitCommitScenario({ ...faults, s3Root: s3!.root });
      } else if (s === "kill") {
        r = await killScenario({
          ...common,
          brokers,
          messages: int("messages", 1000),
          kills: int("kills", 1),
          maxRows: int("max-rows", 100),
          groupMode: "same",
        });
      } else if (s === "group") {
        r = await groupScenario({
          ...common,
          brokers,
          messages: int("group-messages", 1000),
          consumers: 3,
          maxRows: int("max-rows", 100),
          killAfterCommits: 8,
        });
      } else if (s === "outage") {
        r = await outageScenario({
          ...common,
          port,
          messages: int("outage-messages", 1000),
          outageMs: numberOption("outage-s", o["outage-s"], { min: 1 }) * 1000,
          rate: int("outage-rate", 100),
          maxRows: int("max-rows", 100),
          signal: o["broker-signal"] as "SIGTERM" | "SIGKILL",
          echo: o.verbose,
        });
      } else {
        let method = o["ro-method"] as ReadOnlyMethod | "auto";
        if (method === "auto") {
          const found = detectReadOnlyMethod();
          if (!found.method) {
            skipped.readonly = `no way to deny writes to root here: ${found.reasons.join("; ")}`;
            log(`readonly: SKIPPED (${skipped.readonly})`);
            continue;
          }
          method = found.method;
        }
        r = await readOnlyScenario({
          ...common,
          brokers,
          messages: int("ro-messages", 1000),
          maxRows: int("max-rows", 100),
          method,
        });
      }
      log(formatReport(r));
      reports.push(r);
    }
  } finally {
    await s3?.stop();
    await shared?.stop();
  }

  const totals = {
    scenarios: reports.length,
    killsSurvived: reports.reduce((n, r) => n + r.kills, 0),
    messages: reports.reduce((n, r) => n + r.messages, 0),
    lost: reports.reduce((n, r) => n + r.lost, 0),
    duplicates: reports.reduce((n, r) => n + r.duplicates, 0),
    versionsChecked: reports.reduce((n, r) => n + r.versionsChecked, 0),
    problems: reports.reduce((n, r) => n + r.problems.length, 0),
    seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
  };
  console.log(JSON.stringify({ totals, skipped, reports }));
  log(
    `chaos: ${totals.killsSurvived} kills survived, ${totals.lost} lost, ${totals.duplicates} ` +
      `duplicates, ${totals.versionsChecked} versions read, ${totals.problems} problems`,
  );
  return totals.problems > 0 ? 1 : 0;
});
