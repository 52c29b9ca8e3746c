/**
 * The sensor catalogue through the real ingestion tasks: a bad `--sensors` file stops consume
 * and ingest-files with one FILE:LINE line and exit 2 before anything is ingested; a running
 * `ingest-files --watch` picks up an edited file (a new type accepted without a restart), keeps
 * the previous catalogue on a bad edit, and reloads on SIGHUP; wide payloads, vendor aliases
 * and extra columns land as the catalogue says, with the accounting identity
 * sum(bronze.readings) = count(silver) + count(quarantine) + sum(bronze.duplicates).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openDuckDB, sqlString } from "../src/duckdb/engine.ts";
import { REPO_SENSORS_FILE } from "../src/reading/catalogue_file.ts";
import { CASES_SENSORS_YAML, SENSOR_CATALOGUE_CASES } from "../src/reading/hostile_cases.ts";
import { runTask, spawnTask } from "./helpers/tasks.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rows of `sql` over the lakehouse's tables, `{bronze}` etc. replaced by their scans. */
async function query(lakehouse: string, sql: string): Promise<unknown[][]> {
  const db = await openDuckDB();
  try {
    const text = sql.replace(
      /\{(bronze|silver|quarantine)\}/g,
      (_, t) => `delta_scan(${sqlString(join(lakehouse, t))})`,
    );
    return (await db.conn.runAndReadAll(text)).getRows().map((r) =>
      r.map((v) => typeof v === "bigint" ? Number(v) : v)
    );
  } finally {
    db.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A temp dir with `data/` (the files to ingest) and `lh/` (the lakehouse). */
async function workspace(prefix: string) {
  const dir = await Deno.makeTempDir({ prefix });
  const data = join(dir, "data");
  const lakehouse = join(dir, "lh");
  await Deno.mkdir(data);
  await Deno.mkdir(lakehouse);
  return { dir, data, lakehouse };
}

const reading = (device: string, type: string, value: number, second = 0) =>
  JSON.stringify({
    timestamp: new Date(Date.UTC(2025, 11, 16, 9, 0, second)).toISOString(),
    device_id: device,
    building: "C",
    floor: 1,
    type,
    value,
  });

Deno.test("a bad --sensors file: one FILE:LINE line, exit 2, nothing ingested", async () => {
  const { dir, lakehouse } = await workspace("cat-bad-");
  try {
    await Deno.writeTextFile(join(dir, "data", "a.ndjson"), reading("d1", "co2", 500) + "\n");
    const bad = join(dir, "bad.yaml");
    await Deno.writeTextFile(bad, "types:\n  co2:\n    unit: ppm\n    units: {ppb: {scale: 0}}\n");
    const files = await runTask("ingest-files", [
      "--dir",
      join(dir, "data"),
      "--lakehouse",
      lakehouse,
      "--sensors",
      bad,
    ]);
    assert.equal(files.code, 2, files.stderr);
    assert.equal(files.stderr.trim(), `error: ${bad}:4: types.co2.units."ppb".scale must not be 0`);
    // consume reads the catalogue before it even looks for a broker
    const consume = await runTask("consume", [
      "--brokers",
      "127.0.0.1:1",
      "--lakehouse",
      lakehouse,
      "--until-caught-up",
    ], { SENSORS_FILE: bad });
    assert.equal(consume.code, 2, consume.stderr);
    assert.equal(consume.stderr.trim(), files.stderr.trim());
    assert.deepEqual([...Deno.readDirSync(lakehouse)], [], "no table was created");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ingest-files --watch: an edited catalogue applies without a restart; a bad edit keeps the previous", async () => {
  const { dir, data, lakehouse } = await workspace("cat-watch-");
  const sensors = join(dir, "sensors.yaml");
  const original = await Deno.readTextFile(REPO_SENSORS_FILE);
  await Deno.writeTextFile(sensors, original);
  const child = spawnTask("ingest-files", [
    "--dir",
    data,
    "--lakehouse",
    lakehouse,
    "--watch",
    "--interval",
    "0.2",
    "--max-latency-ms",
    "100",
    "--sensors",
    sensors,
  ]);
  let stderr = "";
  const pump = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  const waitFor = async (what: string, check: () => Promise<boolean> | boolean) => {
    const deadline = Date.now() + 30_000;
    while (!(await check())) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; stderr:\n${stderr}`);
      }
      await sleep(150);
    }
  };
  const pm25 = async () =>
    Number(
      (await query(lakehouse, "SELECT count(*) FROM {silver} WHERE type = 'pm25'"))[0][0],
    );
  try {
    await Deno.writeTextFile(join(data, "a.ndjson"), reading("p1", "pm25", 12) + "\n");
    await waitFor(
      "the pm25 reading in quarantine",
      async () =>
        await exists(join(lakehouse, "quarantine")) &&
        (await query(lakehouse, "SELECT reason FROM {quarantine}")).length === 1,
    );
    assert.deepEqual(await query(lakehouse, "SELECT reason, type FROM {quarantine}"), [[
      "unknown_type",
      "pm25",
    ]]);

    // Add the type: the next file's pm25 reading is valid, the process never restarted.
    await Deno.writeTextFile(
      sensors,
      original.replace("types:\n", "types:\n  pm25: {unit: ug/m3, range: [0, 1000]}\n"),
    );
    await waitFor("the reload line", () => stderr.includes("types added: pm25"));
    await Deno.writeTextFile(join(data, "b.ndjson"), reading("p2", "pm25", 13) + "\n");
    await waitFor("pm25 in silver", async () => await pm25() === 1);

    // A bad edit: refused with its line, the previous catalogue (with pm25) stays in force.
    await Deno.writeTextFile(sensors, original.replace("unit: ppm", "unit: ppm\n    colour: x"));
    await waitFor("the refusal", () => stderr.includes("not reloaded"));
    assert.match(stderr, /sensors\.yaml:\d+: unknown key "colour" in types\.co2/);
    assert.match(stderr, /the previous one stays in force/);
    await Deno.writeTextFile(join(data, "c.ndjson"), reading("p3", "pm25", 14) + "\n");
    await waitFor("a second pm25 in silver", async () => await pm25() === 2);

    // SIGHUP reloads too (here: the file, fixed again, without pm25).
    await Deno.writeTextFile(sensors, original);
    await sleep(600);
    child.kill("SIGHUP");
    await waitFor(
      "the SIGHUP reload",
      () => /reloaded \((SIGHUP|file changed)\): types removed: pm25/.test(stderr),
    );
    await Deno.writeTextFile(join(data, "d.ndjson"), reading("p4", "pm25", 15) + "\n");
    await waitFor(
      "pm25 refused again",
      async () => (await query(lakehouse, "SELECT count(*) FROM {quarantine}"))[0][0] === 2,
    );
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0, stderr);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await pump.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("catalogue cases end to end: wide payloads, aliases, extras; the accounting identity", async () => {
  const { dir, lakehouse } = await workspace("cat-cases-");
  try {
    await Deno.writeTextFile(join(dir, "sensors.yaml"), CASES_SENSORS_YAML);
    const payloads = SENSOR_CATALOGUE_CASES.map((c) => c.payload);
    // the wide payload again: a record of duplicates only
    const wide = SENSOR_CATALOGUE_CASES.find((c) => c.name.startsWith("wide payload: three"))!;
    payloads.push(wide.payload);
    await Deno.writeTextFile(join(dir, "data", "cases.ndjson"), payloads.join("\n") + "\n");
    const r = await runTask("ingest-files", [
      "--dir",
      join(dir, "data"),
      "--lakehouse",
      lakehouse,
      "--sensors",
      join(dir, "sensors.yaml"),
    ]);
    assert.equal(r.code, 0, r.stderr);

    const expected = SENSOR_CATALOGUE_CASES.flatMap((c) => c.expect);
    const valid = expected.filter((e) => e === "valid").length;
    const [[bronze, readings, duplicates]] = await query(
      lakehouse,
      "SELECT count(*), sum(readings), sum(duplicates) FROM {bronze}",
    );
    assert.equal(bronze, payloads.length, "bronze: one row per record");
    assert.equal(readings, expected.length + wide.expect.length);
    assert.equal(duplicates, wide.expect.length);
    const [[silver]] = await query(lakehouse, "SELECT count(*) FROM {silver}");
    const [[quarantine]] = await query(lakehouse, "SELECT count(*) FROM {quarantine}");
    assert.equal(silver, valid);
    assert.equal(quarantine, expected.length - valid);
    assert.equal(readings, Number(silver) + Number(quarantine) + Number(duplicates));
    assert.deepEqual(
      await query(lakehouse, "SELECT status, count(*) FROM {bronze} GROUP BY 1 ORDER BY 1"),
      [["duplicate", 1], ["rejected", 4], ["valid", payloads.length - 5]],
    );
    // a rejected reading of a wide payload sits in its own type's partition
    assert.deepEqual(
      await query(
        lakehouse,
        "SELECT type, reason FROM {quarantine} WHERE reason IN ('out_of_range', 'bad_type:value') ORDER BY 1, 2",
      ),
      [["humidity", "out_of_range"], ["pm25", "out_of_range"], ["co2", "bad_type:value"]].sort(),
    );
    // °F in a wide payload, mg/m3 for pm25
    assert.deepEqual(
      await query(
        lakehouse,
        "SELECT type, value FROM {silver} WHERE device_id IN (SELECT device_id FROM {silver} WHERE type = 'pm25' AND value = 7) ORDER BY 1",
      ),
      [["pm25", 7], ["temperature", 22]],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
