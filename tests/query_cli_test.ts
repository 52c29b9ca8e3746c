/**
 * `scripts/query.ts` as a user runs it (a subprocess): the table listing, every output format,
 * time travel by version and by timestamp, and bad SQL (DuckDB's message, exit 1, no stack).
 */
import assert from "node:assert/strict";
import { commitFileTimes, listLog } from "../src/delta/log.ts";
import { refreshGold } from "../src/gold/refresh.ts";
import { tempLakehouse, writeSilver } from "./gold_helpers.ts";
import { runTask } from "./helpers/tasks.ts";
import { tableFromIPC } from "apache-arrow";

/** The query task's own permissions (deno.json): it may not write. */
const PERMS = ["--allow-read", "--allow-ffi", "--allow-env"];

async function queryBytes(stdin: string | null, lh: string, ...args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, "scripts/query.ts", "--lakehouse", lh, ...args],
    stdin: stdin === null ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { DEBUG: "" },
  }).spawn();
  if (stdin !== null) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  return await child.output();
}

async function queryWith(stdin: string | null, lh: string, ...args: string[]) {
  const out = await queryBytes(stdin, lh, ...args);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const query = (lh: string, ...args: string[]) => queryWith(null, lh, ...args);

/** One CO2 reading of the device every test here writes. */
const co2 = (timestamp: string, value = 500) => ({
  timestamp,
  device_id: "A-F0-co2-01",
  building: "A",
  floor: 0,
  type: "co2",
  value,
});

Deno.test("query CLI: per-table --as-of, ISO times only, versions that do not exist", async () => {
  const lh = await tempLakehouse("query-asof-");
  try {
    const row = (ts: string) => co2(ts);
    await writeSilver(lh, [row("2025-01-06T10:00:00Z")]);
    await writeSilver(lh, [row("2025-01-06T10:01:00Z")]);
    await refreshGold(lh);
    await writeSilver(lh, [row("2025-01-06T10:02:00Z")]);
    const sql =
      "SELECT (SELECT count(*) FROM silver) AS s, (SELECT count(*) FROM gold_readings_1m) AS g";
    const both = await query(lh, "--format", "csv", "--as-of", "silver=1", sql);
    assert.equal(both.stdout, "s,g\n1,2\n", both.stderr);
    assert.equal(both.stderr, "");
    const two = await query(
      lh,
      "--format",
      "csv",
      "--as-of",
      "silver=2",
      "--as-of",
      "gold_readings_1m=0",
      sql,
    );
    assert.equal(two.stdout, "s,g\n2,0\n", two.stderr);

    const gone = await query(lh, "--as-of", "silver=99", "SELECT 1");
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /silver: version 99 of .* does not exist \(latest is 3\)/);
    const unknown = await query(lh, "--as-of", "silverr=1", "SELECT 1");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /silverr, not a table of .*; tables: bronze, silver,/);
    const bare = await query(lh, "--as-of", "1", "SELECT 1");
    assert.equal(bare.code, 2);
    assert.match(
      bare.stderr,
      /a version belongs to one table; name it \(e\.g\. --as-of silver=1\)/,
    );
    const fraction = await query(lh, "--as-of", "1.5", "SELECT 1");
    assert.equal(fraction.code, 2);
    assert.match(fraction.stderr, /"1\.5" is not an ISO-8601 time/);
    const before = await query(lh, "--as-of", "2001-01-01", "SELECT 1 AS one");
    assert.equal(before.code, 0);
    assert.match(
      before.stderr,
      /^not yet created at 2001-01-01T00:00:00\.000Z, so left out: bronze,/,
    );
  } finally {
    await Deno.remove(lh, { recursive: true });
  }
});

Deno.test("query CLI: read-only, escapes, limits, several statements, -f and stdin", async () => {
  const lh = await tempLakehouse("query-safe-");
  const outside = await Deno.makeTempDir({ prefix: "query-outside-" });
  try {
    await writeSilver(lh, [co2("2025-01-06T10:00:00Z")]);
    // DuckDB's native code does not see Deno's permissions: the sandbox is DuckDB's own.
    for (const target of [`${outside}/x.csv`, `${lh}/x.csv`, `${lh}/silver/x.parquet`]) {
      const copy = await query(lh, `COPY (SELECT 1) TO '${target}'`);
      assert.equal(copy.code, 1, copy.stdout);
      const explain = await query(lh, `EXPLAIN ANALYZE COPY (SELECT 1) TO '${target}'`);
      assert.equal(explain.code, 1, explain.stdout);
      await assert.rejects(Deno.stat(target), Deno.errors.NotFound);
    }
    for (const sql of [`ATTACH '${outside}/db.duckdb'`, `EXPORT DATABASE '${lh}/exp'`]) {
      const r = await query(lh, sql);
      assert.equal(r.code, 1, `${sql}: ${r.stdout}`);
    }
    assert.deepEqual([...Deno.readDirSync(outside)], []);
    const passwd = await query(lh, "SELECT * FROM read_text('/etc/hostname')");
    assert.equal(passwd.code, 1);
    assert.match(passwd.stderr, /disabled by configuration[\s\S]*reads files only under/);
    const unlock = await query(lh, "SET enable_external_access = true");
    assert.equal(unlock.code, 1);
    const read = await query(lh, "--format", "csv", "SELECT count(*) AS n FROM silver");
    assert.equal(read.stdout, "n\n1\n", read.stderr);

    // Control bytes: escaped in the table format, exact in csv/json.
    const evil = "SELECT 'a' || chr(27) || '[2J' || chr(27) || ']0;pwned' || chr(7) || " +
      "'b' || chr(8238) || 'c' AS payload";
    const shown = await query(lh, evil);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /a\\x1b\[2J\\x1b\]0;pwned\\x07b\\u202ec/);
    for (const raw of ["\x1b", "\x07", "\u202e"]) assert.ok(!shown.stdout.includes(raw));
    const exact = await query(lh, "--format", "json", evil);
    assert.equal(JSON.parse(exact.stdout)[0].payload, "a\x1b[2J\x1b]0;pwned\x07b\u202ec");
    const csv = await query(lh, "--format", "csv", evil);
    assert.equal(csv.stdout, "payload\na\x1b[2J\x1b]0;pwned\x07b\u202ec\n");

    // Wide cells and long results are cut in the table format unless lifted.
    const wide = await query(lh, "SELECT repeat('x', 500) AS w");
    assert.ok(wide.stdout.split("\n")[2].length <= 80);
    assert.match(wide.stdout, /x…\n/);
    const whole = await query(lh, "--max-width", "0", "SELECT repeat('x', 500) AS w");
    assert.ok(whole.stdout.includes("x".repeat(500)));
    const many = await query(lh, "--show-rows", "4", "SELECT range AS r FROM range(100000)");
    assert.deepEqual(many.stdout.trimEnd().split("\n"), [
      "     r",
      "------",
      "     0",
      "     1",
      "⋮",
      "99,998",
      "99,999",
      "(100,000 rows, 4 shown: --show-rows 0 shows all)",
    ]);
    // The old spelling still works, and says it is deprecated.
    const old = await query(lh, "--max-rows", "4", "SELECT range AS r FROM range(100000)");
    assert.equal(old.stdout, many.stdout);
    assert.match(old.stderr, /--max-rows is deprecated; use --show-rows/);
    const values = await query(
      lh,
      "SELECT INTERVAL '90 minutes' AS i, 0.0000001::DOUBLE AS small, 0.1 + 0.2 AS sum",
    );
    assert.match(values.stdout, /\n1h 30m\s+1e-7\s+0\.3\n/);
    const ivJson = await query(lh, "--format", "json", "SELECT INTERVAL '1 day 90 minutes' AS i");
    assert.equal(JSON.parse(ivJson.stdout)[0].i, "P1DT1H30M");

    // Several statements print each result; SQL from a file or stdin.
    const several = "SELECT 1 AS a; CREATE TEMP TABLE t AS SELECT 2 AS b; SELECT b FROM t;";
    const multi = await query(lh, "--format", "csv", several);
    assert.equal(multi.stdout, "a\n1\nb\n2\n", multi.stderr);
    const file = `${outside}/q.sql`;
    await Deno.writeTextFile(file, "SELECT count(*) AS n FROM silver;\n");
    const fromFile = await query(lh, "--format", "csv", "-f", file);
    assert.equal(fromFile.stdout, "n\n1\n", fromFile.stderr);
    const fromStdin = await queryWith("SELECT 7 AS seven", lh, "--format", "csv", "-");
    assert.equal(fromStdin.stdout, "seven\n7\n", fromStdin.stderr);

    // The env twins reach the task as deno.json runs it.
    const twin = await runTask("query", ["--lakehouse", lh, "SELECT 1 AS one"], {
      QUERY_FORMAT: "csv",
    });
    assert.equal(twin.stdout, "one\n1\n", twin.stderr);

    const typo = await query(`${lh}-typo`);
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, new RegExp(`lakehouse ${lh}-typo does not exist`));
  } finally {
    await Deno.remove(lh, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("query CLI: listing, formats, --as-of, bad SQL", async () => {
  const lh = await tempLakehouse("query-test-");
  try {
    const row = co2;
    await writeSilver(lh, [row("2025-01-06T10:00:00Z", 500), row("2025-01-06T10:00:30Z", 510)]);
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
      "silver=1",
      "--format",
      "csv",
      "SELECT count(*) AS n FROM silver",
    );
    assert.equal(byVersion.stdout, "n\n2\n");
    // Time travel dates a version by its commit file's mtime (as delta-rs does), not by the
    // commitInfo timestamp taken before the file was written: the latter can precede the file
    // by a few ms under load, and --as-of would then find the version before.
    const silver = `${lh}/silver`;
    const v1At = (await commitFileTimes(silver, await listLog(silver))).get(1)!;
    const byTime = await query(
      lh,
      "--as-of",
      new Date(v1At).toISOString(),
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

Deno.test("query CLI: --format arrow writes one Arrow IPC stream with the columns' types", async () => {
  const lh = await tempLakehouse("query-arrow-");
  try {
    await writeSilver(lh, [co2("2025-01-06T10:00:00Z", 512.5)]);
    const sql = "SELECT device_id, timestamp, value, floor, 9007199254740993::BIGINT AS big, " +
      "DATE '2025-01-06' AS day, INTERVAL 90 MINUTE AS span, NULL::BIGINT AS none, " +
      "timestamp::TIMESTAMP AS naive FROM silver";
    const out = await queryBytes(null, lh, "--format", "arrow", sql);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const t = tableFromIPC(out.stdout);
    assert.equal(t.numRows, 1);
    const types = Object.fromEntries(t.schema.fields.map((f) => [f.name, String(f.type)]));
    assert.deepEqual(types, {
      device_id: "Utf8",
      timestamp: "Timestamp<MICROSECOND, UTC>",
      value: "Float64",
      floor: "Int32",
      big: "Int64",
      day: "Date32<DAY>",
      span: "Utf8",
      none: "Int64",
      naive: "Timestamp<MICROSECOND>",
    });
    const row = t.get(0)!.toJSON();
    assert.equal(row.device_id, "A-F0-co2-01");
    assert.equal(row.value, 512.5);
    assert.equal(row.big, 9007199254740993n, "64-bit integers stay exact");
    assert.equal(row.span, "PT1H30M");
    assert.equal(row.none, null);
    assert.equal(t.getChild("timestamp")!.data[0].values[0], 1736157600000000n, "microseconds");

    const two = await query(lh, "--format", "arrow", "SELECT 1; SELECT 2");
    assert.equal(two.code, 2, two.stderr);
    assert.match(two.stderr, /--format arrow writes one result/);
    const list = await query(lh, "--format", "arrow");
    assert.equal(list.code, 2);
    assert.match(list.stderr, /--format arrow needs a query/);
  } finally {
    await Deno.remove(lh, { recursive: true });
  }
});
