/**
 * `scripts/query.ts` as a user runs it (a subprocess): the table listing, every output format,
 * time travel by version and by timestamp, and bad SQL (DuckDB's message, exit 1, no stack).
 */
import assert from "node:assert/strict";
import { loadSnapshot } from "../src/delta/snapshot.ts";
import { refreshGold } from "../src/query/gold.ts";
import { tempLakehouse, writeSilver } from "./gold_helpers.ts";

const PERMS = ["--allow-read", "--allow-write", "--allow-ffi", "--allow-env"];

async function query(lh: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, "scripts/query.ts", "--lakehouse", lh, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { DEBUG: "" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("query CLI: listing, formats, --as-of, bad SQL", async () => {
  const lh = await tempLakehouse("query-test-");
  try {
    const row = (ts: string, value: number) => ({
      timestamp: ts,
      device_id: "A-F0-co2-01",
      building: "A",
      floor: 0,
      type: "co2",
      value,
    });
    await writeSilver(lh, [row("2025-01-06T10:00:00Z", 500), row("2025-01-06T10:00:30Z", 510)]);
    const v1 = await loadSnapshot(`${lh}/silver`);
    await new Promise((r) => setTimeout(r, 20));
    await writeSilver(lh, [row("2025-01-06T10:01:00Z", 520)]);
    await refreshGold(lh);

    const list = await query(lh);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^table\s+rows\s+version\s+last_commit\s+files\n/);
    assert.match(list.stdout, /\nsilver\s+3\s+2\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+2\n/);
    assert.match(list.stdout, /\ngold_readings_1m\s+2\s+1\s/);
    assert.match(list.stdout, /\ngold_alarms\s+0\s+1\s/);

    const sql = "SELECT device_id, timestamp, value FROM silver ORDER BY timestamp";
    const table = await query(lh, sql);
    assert.equal(table.code, 0, table.stderr);
    assert.deepEqual(table.stdout.trimEnd().split("\n"), [
      "device_id    timestamp             value",
      "-----------  --------------------  -----",
      "A-F0-co2-01  2025-01-06T10:00:00Z    500",
      "A-F0-co2-01  2025-01-06T10:00:30Z    510",
      "A-F0-co2-01  2025-01-06T10:01:00Z    520",
      "(3 rows)",
    ]);
    const csv = await query(lh, "--format", "csv", sql);
    assert.equal(
      csv.stdout,
      "device_id,timestamp,value\nA-F0-co2-01,2025-01-06T10:00:00Z,500\n" +
        "A-F0-co2-01,2025-01-06T10:00:30Z,510\nA-F0-co2-01,2025-01-06T10:01:00Z,520\n",
    );
    const json = await query(lh, "--format", "json", sql);
    assert.deepEqual(JSON.parse(json.stdout)[2], {
      device_id: "A-F0-co2-01",
      timestamp: "2025-01-06T10:01:00Z",
      value: 520,
    });
    const nd = await query(
      lh,
      "--format",
      "ndjson",
      "SELECT window_start, count, avg FROM gold_readings_1m ORDER BY window_start",
    );
    assert.deepEqual(nd.stdout.trimEnd().split("\n").map((l) => JSON.parse(l)), [
      { window_start: "2025-01-06T10:00:00Z", count: 2, avg: 505 },
      { window_start: "2025-01-06T10:01:00Z", count: 1, avg: 520 },
    ]);

    const byVersion = await query(
      lh,
      "--as-of",
      "1",
      "--format",
      "csv",
      "SELECT count(*) AS n FROM silver",
    );
    assert.equal(byVersion.stdout, "n\n2\n");
    const byTime = await query(
      lh,
      "--as-of",
      new Date(v1.commitTimestamp + 1).toISOString(),
      "--format",
      "csv",
      "SELECT count(*) AS n FROM silver",
    );
    assert.equal(byTime.stdout, "n\n2\n", byTime.stderr);

    const bad = await query(lh, "SELEC count(*) FROM silver");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: Parser Error: syntax error at or near "SELEC"/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
    const missing = await query(lh, "SELECT * FROM gold_nope");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Catalog Error: Table with name gold_nope does not exist/);
    const badFlag = await query(lh, "--format", "xml", "SELECT 1");
    assert.equal(badFlag.code, 2);
  } finally {
    await Deno.remove(lh, { recursive: true });
  }
});
