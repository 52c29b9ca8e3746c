/**
 * Object-storage faults, short form (the long form is `deno task chaos --scenarios
 * s3-restart,s3-put-kill,split-commit`): the S3 server SIGKILLed mid-ingest and restarted, the
 * consumer killed with a commit entry's PUT in flight, and a crash between a flush's silver and
 * bronze commits, locally and on S3. The last two land exactly through the test-only fault
 * point (src/fault_point.ts). Each asserts the exactly-once outcome through delta_scan, every
 * table version readable, and delta-rs reading the same counts as DuckDB.
 */
import assert from "node:assert/strict";
import { testBrokers } from "../src/kafka/test_broker.ts";
import { readEnv } from "../src/config.ts";
import {
  freeS3Port,
  putKillScenario,
  s3RestartScenario,
  splitCommitScenario,
  startThrowAwayS3,
} from "../src/chaos/storage_faults.ts";
import { formatReport, type ScenarioReport } from "../src/chaos/report.ts";
import { s3Scratch } from "../src/storage/test_s3.ts";
import { noteSkip } from "./helpers/skip.ts";

const BROKERS = (await testBrokers()).join(",");
/** CHAOS_VERBOSE=1 prints each scenario's progress lines. */
const log = readEnv("CHAOS_VERBOSE") ? (l: string) => console.error(l) : undefined;
const SMALL = { brokers: BROKERS, seed: 8, versionSample: 5, log };

function assertHeld(name: string, r: ScenarioReport): void {
  console.error(formatReport(r));
  assert.deepEqual(r.problems, [], formatReport(r));
  assert.equal(r.lost, 0, "messages lost");
  assert.equal(r.duplicates, 0, "duplicates");
  assert.ok(r.versionsChecked > 0, "table versions were read back");
  if (r.details.deltaRs === "agrees") return;
  noteSkip(`${name}: the delta-rs reader`, String(r.details.deltaRs));
}

Deno.test("chaos s3: the S3 server SIGKILLed mid-ingest, back 10 s later: exact, readers agree", async () => {
  const s3 = await startThrowAwayS3(freeS3Port());
  try {
    const r = await s3RestartScenario({
      ...SMALL,
      s3,
      messages: 6000,
      maxRows: 500,
      downMs: 10_000,
    });
    assertHeld("chaos s3-restart", r);
  } finally {
    await s3.stop();
  }
});

for (const where of ["local", "s3"] as const) {
  Deno.test(`chaos ${where}: consume killed with a commit PUT in flight, twice: exact, readers agree`, async () => {
    const s3Root = where === "s3" ? await s3Scratch("chaos") : undefined;
    const r = await putKillScenario({ ...SMALL, s3Root, messages: 3000, maxRows: 300, kills: 2 });
    assert.equal(r.kills, 2, "every run died at its fault point");
    assertHeld(`chaos s3-put-kill (${where})`, r);
  });

  Deno.test(`chaos ${where}: a crash between silver and bronze commits, twice: exact, readers agree`, async () => {
    const s3Root = where === "s3" ? await s3Scratch("chaos") : undefined;
    const r = await splitCommitScenario({
      ...SMALL,
      s3Root,
      messages: 3000,
      maxRows: 300,
      kills: 2,
    });
    assert.equal(r.kills, 2, "every run died at its fault point");
    assert.equal(r.details.splitsSeen, 2, "each crash left silver ahead of bronze");
    assertHeld(`chaos split-commit (${where})`, r);
  });
}
