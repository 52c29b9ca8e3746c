/**
 * `deno task replay` end to end, as a user runs it: readings of a type the catalogue does not
 * know are quarantined (`unknown_type`); the type is added to the catalogue (with a `columns:`
 * entry); the replay admits them into silver exactly once — a SIGKILL between its silver commit
 * and its quarantine cleanup (REPLAY_FAULT) is repaired by the next run, and a further run adds
 * nothing — and the accounting identity holds throughout:
 *   sum(bronze.readings) = count(silver) + count(quarantine) + sum(bronze.duplicates)
 * (older bronze rows: readings NULL = 1, duplicates NULL = (status = 'duplicate')).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openDuckDB, sqlString } from "../src/duckdb/engine.ts";
import { REPO_SENSORS_FILE } from "../src/reading/catalogue_file.ts";
import { runTask } from "./helpers/tasks.ts";

const START = Date.UTC(2026, 11, 1, 8);

/** The repository catalogue plus a pm25 type and a `battery` column. */
async function catalogueWithPm25(path: string): Promise<void> {
  const base = await Deno.readTextFile(REPO_SENSORS_FILE);
  const pm25 = `types:
  pm25:
    description: Fine particulate matter
    unit: ug/m3
    units: { "µg/m³": {} }
    range: [0, 1000]
    thresholds: { warning: [null, 35], critical: [null, 75], min_duration_s: 300 }
`;
  const text = base.replace(/^types:\n/m, pm25).replace(
    /^columns: \{\}$/m,
    "columns: { battery: double }",
  );
  assert.notEqual(text, base);
  await Deno.writeTextFile(path, text);
}

function reading(i: number, type: string, value: number, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    timestamp: new Date(START + i * 60_000).toISOString(),
    device_id: `dev_${type}_${i % 3}`,
    building: "A",
    floor: 1,
    type,
    value,
    ...extra,
  });
}

interface Counts {
  silver: number;
  pm25: number;
  battery: number;
  quarantine: number;
  unknown: number;
  identity: [number, number];
}

async function counts(lakehouse: string): Promise<Counts> {
  const db = await openDuckDB({ delta: true });
  try {
    const t = (name: string) => `delta_scan(${sqlString(join(lakehouse, name))})`;
    const one = async (sql: string) =>
      (await db.conn.runAndReadAll(sql)).getRows()[0].map((v) => Number(v));
    const columns = (await db.conn.runAndReadAll(`DESCRIBE SELECT * FROM ${t("silver")}`))
      .getRows().map((r) => String(r[0]));
    const [silver, pm25] = await one(
      `SELECT count(*), count(*) FILTER (WHERE type = 'pm25') FROM ${t("silver")}`,
    );
    const [battery] = columns.includes("battery")
      ? await one(`SELECT count(battery) FROM ${t("silver")}`)
      : [0];
    const [quarantine, unknown] = await one(
      `SELECT count(*), count(*) FILTER (WHERE reason = 'unknown_type') FROM ${t("quarantine")}`,
    );
    const bronzeCols = (await db.conn.runAndReadAll(`DESCRIBE SELECT * FROM ${t("bronze")}`))
      .getRows().map((r) => String(r[0]));
    const counted = bronzeCols.includes("readings")
      ? "sum(coalesce(readings, 1)), sum(coalesce(duplicates, (status = 'duplicate')::INT))"
      : "count(*), count(*) FILTER (WHERE status = 'duplicate')";
    const [readings, duplicates] = await one(`SELECT ${counted} FROM ${t("bronze")}`);
    return {
      silver,
      pm25,
      battery,
      quarantine,
      unknown,
      identity: [readings, silver + quarantine + duplicates],
    };
  } finally {
    db.close();
  }
}

async function replay(lakehouse: string, sensors: string, env: Record<string, string> = {}) {
  return await runTask(
    "replay",
    [
      "--reason",
      "unknown_type",
      "--lakehouse",
      lakehouse,
      "--sensors",
      sensors,
      "--format",
      "json",
    ],
    env,
  );
}

Deno.test("replay admits newly known readings exactly once, survives a SIGKILL mid-way, and a rerun adds nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "replay-in-" });
  const lakehouse = await Deno.makeTempDir({ prefix: "replay-lh-" });
  const sensors = join(dir, "..", `${dir.split("/").pop()}-sensors.yaml`);
  try {
    const lines: string[] = [];
    for (let i = 0; i < 20; i++) {
      lines.push(reading(i, "pm25", 5 + i, i % 2 === 0 ? { battery: 3.1 + i / 100 } : {}));
    }
    lines.push(reading(3, "pm25", 8)); // the same key as an earlier one: a duplicate
    for (let i = 20; i < 23; i++) lines.push(reading(i, "pm25", 5000)); // out of range for pm25
    for (let i = 0; i < 6; i++) lines.push(reading(i, "temperature", 21 + i / 10));
    await Deno.writeTextFile(join(dir, "readings.ndjson"), lines.join("\n") + "\n");
    const ingest = await runTask("ingest-files", [
      "--dir",
      dir,
      "--lakehouse",
      lakehouse,
    ]);
    assert.equal(ingest.code, 0, ingest.stderr);
    const before = await counts(lakehouse);
    assert.deepEqual(
      [before.silver, before.quarantine, before.unknown],
      [6, 24, 24],
    );
    assert.equal(before.identity[0], before.identity[1]);

    await catalogueWithPm25(sensors);
    // Killed between the silver commit and the quarantine cleanup.
    const killed = await replay(lakehouse, sensors, { REPLAY_FAULT: "kill-after-silver" });
    assert.notEqual(killed.code, 0, "the fault should kill the replay");
    const mid = await counts(lakehouse);
    assert.deepEqual([mid.pm25, mid.quarantine], [20, 24], "silver written, quarantine not yet");

    const first = await replay(lakehouse, sensors);
    assert.equal(first.code, 0, first.stderr);
    const s1 = JSON.parse(first.stdout);
    assert.deepEqual(
      [s1.scanned, s1.admitted, s1.resumed, s1.duplicates, s1.stillRejected],
      [24, 20, 20, 1, { out_of_range: 3 }],
    );
    const after = await counts(lakehouse);
    assert.deepEqual(
      [after.silver, after.pm25, after.battery, after.quarantine, after.unknown],
      [26, 20, 10, 4, 4],
    );
    assert.equal(after.identity[0], after.identity[1], "the accounting identity holds");

    const again = await replay(lakehouse, sensors);
    assert.equal(again.code, 0, again.stderr);
    const s2 = JSON.parse(again.stdout);
    assert.deepEqual([s2.scanned, s2.admitted, s2.duplicates], [4, 0, 1]);
    assert.deepEqual(await counts(lakehouse), after, "a rerun changes nothing");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(sensors).catch(() => {});
    await Deno.remove(lakehouse, { recursive: true });
  }
});

Deno.test("replay: a usage error without --reason; a bad catalogue exits 2 naming file and line", async () => {
  const lakehouse = await Deno.makeTempDir({ prefix: "replay-lh-" });
  const bad = `${lakehouse}.yaml`;
  try {
    const noReason = await runTask("replay", ["--lakehouse", lakehouse]);
    assert.equal(noReason.code, 2);
    assert.match(noReason.stderr, /--reason is required/);
    await Deno.writeTextFile(bad, "types:\n  pm25:\n    unit: ug/m3\n    colour: blue\n");
    const r = await runTask("replay", [
      "--reason",
      "unknown_type",
      "--lakehouse",
      lakehouse,
      "--sensors",
      bad,
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`${bad.replaceAll("/", "\\/")}:4`));
  } finally {
    await Deno.remove(bad).catch(() => {});
    await Deno.remove(lakehouse, { recursive: true });
  }
});
