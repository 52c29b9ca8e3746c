/**
 * Gold refresh: exact aggregates on a hand-made silver, incremental = full after more silver
 * arrives (including late data for an already built day, and seeded random batches whose late
 * readings land in hours and days already built, a backfill older than anything built, and a
 * deletion hidden behind a checkpoint),
 * idempotence, and that delta_scan (an
 * independent Delta reader) reads every gold table.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeCheckpoint } from "../src/delta/checkpoint.ts";
import { commit } from "../src/delta/commit.ts";
import { loadSnapshot } from "../src/delta/snapshot.ts";
import { openDuckDB, sqlIdent } from "../src/duckdb/engine.ts";
import { refreshGold } from "../src/gold/refresh.ts";
import { GOLD_TABLES, goldTablePath } from "../src/gold/tables.ts";
import { deltaScanSql } from "../src/query/views.ts";
import { Prng } from "../src/simulator/prng.ts";
import { type SilverRow, simulate, tempLakehouse, writeSilver } from "./gold_helpers.ts";
import { runTask } from "./helpers/tasks.ts";

const T = (hms: string) => `2025-01-06T${hms}Z`;

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const db = await openDuckDB();
  try {
    return (await db.conn.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

Deno.test("gold: exact aggregates on a tiny hand-made silver", async () => {
  const lh = await tempLakehouse();
  try {
    const t = { building: "A", floor: 1, type: "temperature" };
    const e = { building: "A", floor: 0, type: "energy", device_id: "A-F0-energy-01" };
    const rows: SilverRow[] = [
      { ...t, device_id: "d1", timestamp: T("10:00:00"), value: 20 },
      { ...t, device_id: "d1", timestamp: T("10:00:30"), value: 22 },
      { ...t, device_id: "d1", timestamp: T("10:01:10"), value: 30 },
      { ...t, device_id: "d2", timestamp: T("10:00:15"), value: 24 },
      { ...e, timestamp: T("10:00:00"), value: 0.5 },
      { ...e, timestamp: T("10:30:00"), value: 0.25 },
      { ...e, timestamp: T("11:00:00"), value: 1.0 },
    ];
    await writeSilver(lh, rows);
    const results = await refreshGold(lh);
    assert.deepEqual(results.map((r) => r.mode), GOLD_TABLES.map(() => "full"));
    const g = (name: string) => deltaScanSql(goldTablePath(lh, name), 1);

    const r1m = await query(
      `SELECT avg, min, max, count, p95, CAST(day AS VARCHAR) AS day FROM ${g("readings_1m")}
       WHERE device_id = 'd1' AND window_start = '${T("10:00:00")}'::TIMESTAMPTZ`,
    );
    assert.deepEqual(r1m, [{
      avg: 21,
      min: 20,
      max: 22,
      count: "2",
      p95: 21.9,
      day: "2025-01-06",
    }]);
    const r1h = await query(
      `SELECT avg, count FROM ${g("readings_1h")} WHERE device_id = 'd1'`,
    );
    assert.deepEqual(r1h, [{ avg: 24, count: "3" }]);
    const f1m = await query(
      `SELECT avg, min, max, count, round(p95, 9) AS p95, devices FROM ${g("floor_1m")}
       WHERE type = 'temperature' AND window_start = '${T("10:00:00")}'::TIMESTAMPTZ`,
    );
    assert.deepEqual(f1m, [{ avg: 22, min: 20, max: 24, count: "3", p95: 23.8, devices: "2" }]);
    const f1h = await query(
      `SELECT count, devices FROM ${g("floor_1h")} WHERE type = 'temperature'`,
    );
    assert.deepEqual(f1h, [{ count: "4", devices: "2" }]);
    const eh = await query(
      `SELECT strftime(hour_start, '%H') AS h, kwh, readings FROM ${g("energy_hourly")} ORDER BY h`,
    );
    assert.deepEqual(eh, [{ h: "10", kwh: 0.75, readings: "2" }, {
      h: "11",
      kwh: 1,
      readings: "1",
    }]);
    const ed = await query(`SELECT kwh, meters FROM ${g("energy_daily")}`);
    assert.deepEqual(ed, [{ kwh: 1.75, meters: "1" }]);
    const h = await query(
      `SELECT device_id, readings_last_hour, expected_interval_s, silent, status
       FROM ${g("device_health")} ORDER BY device_id`,
    );
    assert.deepEqual(h, [
      // Building A's newest reading is 11:00, so the temperature sensors (last 10:01) are silent.
      {
        device_id: "A-F0-energy-01",
        readings_last_hour: "2",
        expected_interval_s: 1800,
        silent: false,
        status: "ok",
      },
      {
        device_id: "d1",
        readings_last_hour: "2",
        expected_interval_s: 40,
        silent: true,
        status: "silent",
      },
      {
        device_id: "d2",
        readings_last_hour: "1",
        expected_interval_s: null,
        silent: true,
        status: "silent",
      },
    ]);
  } finally {
    await Deno.remove(lh, { recursive: true });
  }
});

/** Rows of a table version, doubles rounded (summation order may differ in the last bits). */
function canonicalSql(path: string, version: number, name: string): string {
  const def = GOLD_TABLES.find((d) => d.name === name)!;
  const cols = def.schema.fields.map((f) =>
    f.type === "double" ? `round(${sqlIdent(f.name)}, 6) AS ${sqlIdent(f.name)}` : sqlIdent(f.name)
  );
  return `SELECT ${cols.join(", ")} FROM ${deltaScanSql(path, version)}`;
}

/**
 * Rebuilds every gold table fully and asserts each equals its incremental version in
 * `incremental` row for row; delta_scan (delta-kernel-rs, an independent reader) reads every
 * table and agrees with the log's stats. Returns the alarm episodes and incidents.
 */
async function assertSameAsFullRebuild(
  lh: string,
  incremental: Awaited<ReturnType<typeof refreshGold>>,
): Promise<{ alarms: number; incidents: number }> {
  const full = await refreshGold(lh, { full: true });
  const db = await openDuckDB();
  let alarms = 0, incidents = 0;
  try {
    for (const def of GOLD_TABLES) {
      const path = goldTablePath(lh, def.name);
      const incV = incremental.find((r) => r.table === def.name)!.version;
      const fullV = full.find((r) => r.table === def.name)!.version;
      assert.equal(fullV, incV + 1);
      const a = canonicalSql(path, incV, def.name), b = canonicalSql(path, fullV, def.name);
      const diff = (await db.conn.runAndReadAll(
        `SELECT (SELECT count(*) FROM (${a} EXCEPT ALL ${b})) + (SELECT count(*) FROM (${b} EXCEPT ALL ${a}))`,
      )).getRows()[0][0];
      assert.equal(Number(diff), 0, `${def.name}: incremental v${incV} != full v${fullV}`);
      const n = Number(
        (await db.conn.runAndReadAll(`SELECT count(*) FROM (${b})`)).getRows()[0][0],
      );
      const snap = await loadSnapshot(path);
      assert.equal(n, full.find((r) => r.table === def.name)!.rows, def.name);
      assert.ok(snap.txnVersion(`gold-${def.name}-silver`) !== undefined);
      if (def.name === "alarms") alarms = n;
      if (def.name === "incidents") incidents = n;
    }
  } finally {
    db.close();
  }
  return { alarms, incidents };
}

Deno.test("gold: incremental refresh equals a full rebuild, and a second refresh is a no-op", async () => {
  const lh = await tempLakehouse();
  try {
    const start = Date.UTC(2025, 0, 6, 20);
    const { rows } = simulate({
      seed: 3,
      start,
      intervalSeconds: 30,
      durationSeconds: 8 * 3600, // crosses midnight: two days
      topology: { buildings: 1, floors: 2 },
      faults: "anomalies",
    });
    const t = (r: SilverRow) => Number(r.timestamp);
    const cut1 = start + 3 * 3600_000, cut2 = start + 5.5 * 3600_000;
    // Batch 2 carries a late reading back in day 1 (it must replace that day, not add to it).
    const late = rows.filter((r) => t(r) < cut1 && t(r) % 600_000 === 0);
    const early = rows.filter((r) => t(r) < cut1 && t(r) % 600_000 !== 0);
    await writeSilver(lh, early);
    await refreshGold(lh);
    await writeSilver(lh, [...late, ...rows.filter((r) => t(r) >= cut1 && t(r) < cut2)]);
    const inc1 = await refreshGold(lh);
    assert.ok(inc1.every((r) => r.mode === "incremental"), JSON.stringify(inc1.map((r) => r.mode)));
    const day1Files = async () =>
      (await loadSnapshot(goldTablePath(lh, "readings_1m"))).files
        .filter((f) => f.partitionValues.day === "2025-01-06").map((f) => f.path).sort();
    const day1Before = await day1Files();
    await writeSilver(lh, rows.filter((r) => t(r) >= cut2));
    const inc2 = await refreshGold(lh);
    assert.ok(day1Before.length > 0);
    assert.deepEqual(await day1Files(), day1Before);
    assert.ok(inc2.every((r) => r.mode === "incremental"));
    // The last batch touches 01:30-04:00 on day 2 only: minute tables recompute those minutes,
    // hourly ones the hours (keeping the day's other rows), energy_daily the whole day; day 1's
    // files stay.
    const scope = (table: string) => inc2.find((r) => r.table === table)!.scope;
    assert.equal(scope("readings_1m"), "150 minute(s) in [2025-01-07T01:30, 2025-01-07T04:00)");
    assert.equal(scope("energy_hourly"), "3 hour(s) in [2025-01-07T01:00, 2025-01-07T04:00)");
    assert.equal(scope("energy_daily"), "1 day(s) in [2025-01-07, 2025-01-08)");

    const again = await refreshGold(lh);
    assert.ok(again.every((r) => r.mode === "unchanged"));
    assert.deepEqual(again.map((r) => r.version), inc2.map((r) => r.version));

    const { alarms, incidents } = await assertSameAsFullRebuild(lh, inc2);
    assert.ok(alarms > 5, `expected alarms from the anomalies profile, got ${alarms}`);
    // Several rules fire on one fault: fewer incidents than episodes, but some.
    assert.ok(incidents > 0 && incidents < alarms, `${incidents} incidents of ${alarms} alarms`);
    assert.ok((await Deno.stat(join(lh, "gold", "alarms", "_delta_log"))).isDirectory);
  } finally {
    await Deno.remove(lh, { recursive: true });
  }
});

Deno.test("gold: a refresh within an hour rewrites that hour's files only, one hour per file", async () => {
  const lh = await tempLakehouse();
  try {
    // Three hours of one floor, every 20 s; then one minute, and one more, at 12:30 and 12:31.
    const start = Date.UTC(2025, 0, 6, 10), topology = { buildings: 1, floors: 1 };
    const { rows } = simulate({
      seed: 7,
      start,
      intervalSeconds: 20,
      durationSeconds: 10800,
      topology,
    });
    const t = (r: SilverRow) => Number(r.timestamp);
    const slices = [2.5 * 60, 2.5 * 60 + 1, 2.5 * 60 + 2].map((m) => start + m * 60_000);
    await writeSilver(lh, rows.filter((r) => t(r) < slices[0]));
    await refreshGold(lh);
    await writeSilver(lh, rows.filter((r) => t(r) >= slices[0] && t(r) < slices[1]));
    await refreshGold(lh);
    const files = async (table: string) => {
      const def = GOLD_TABLES.find((d) => d.name === table)!;
      const snap = await loadSnapshot(goldTablePath(lh, table));
      return snap.files.map((f) => {
        const s = JSON.parse(f.stats!);
        const column = def.windowColumn ?? "window_start";
        return { path: f.path, range: [s.minValues[column], s.maxValues[column]].map(Date.parse) };
      });
    };
    const before = await files("readings_1m");
    await writeSilver(lh, rows.filter((r) => t(r) >= slices[1] && t(r) < slices[2]));
    const inc = await refreshGold(lh);
    // Minute tables recompute the new minute, hourly ones its hour; the files they write hold
    // one hour each, and the files of the earlier hours are the same as before the refresh.
    const scope = (table: string) => inc.find((r) => r.table === table)!.scope;
    assert.equal(scope("readings_1m"), "1 minute(s) in [2025-01-06T12:31, 2025-01-06T12:32)");
    assert.equal(scope("readings_1h"), "1 hour(s) in [2025-01-06T12:00, 2025-01-06T13:00)");
    const after = await files("readings_1m");
    const untouched = (fs: typeof after) =>
      fs.filter((f) => f.range[1] < slices[1]).map((f) => f.path).sort();
    assert.ok(untouched(before).length > 0);
    assert.deepEqual(untouched(after), untouched(before));
    const written = after.filter((f) => !before.some((b) => b.path === f.path));
    const hour = (ms: number) => Math.floor(ms / 3600_000);
    assert.ok(written.length > 0);
    for (const f of written) {
      assert.deepEqual(f.range.map(hour), [hour(slices[0]), hour(slices[0])]);
    }
    await assertSameAsFullRebuild(lh, inc);
  } finally {
    await Deno.remove(lh, { recursive: true });
  }
});

Deno.test("gold: incremental = full after seeded random batches with late readings across days", async () => {
  const lh = await tempLakehouse();
  try {
    const start = Date.UTC(2025, 0, 6, 18);
    const { rows } = simulate({
      seed: 11,
      start,
      intervalSeconds: 20,
      durationSeconds: 12 * 3600, // 18:00 to 06:00: two days
      topology: { buildings: 2, floors: 1 },
      faults: "anomalies",
    });
    const rng = new Prng(11);
    const t = (r: SilverRow) => Number(r.timestamp);
    // Five time slices; each batch also carries some readings held back from earlier slices.
    const cuts = [0, 1, 2, 3, 4, 5].map((k) => start + k * 2.4 * 3600_000);
    let held: SilverRow[] = [];
    let last: Awaited<ReturnType<typeof refreshGold>> = [];
    for (let k = 0; k < 5; k++) {
      const slice = rows.filter((r) => t(r) >= cuts[k] && (k === 4 || t(r) < cuts[k + 1]));
      const late = held.filter(() => rng.next() < 0.5);
      held = [...held.filter((r) => !late.includes(r)), ...slice.filter(() => rng.next() < 0.05)];
      const now = [...slice.filter((r) => !held.includes(r)), ...late];
      if (k === 4) now.push(...held);
      await writeSilver(lh, now);
      last = await refreshGold(lh);
      assert.ok(last.every((r) => r.mode === (k === 0 ? "full" : "incremental")), `batch ${k}`);
    }
    await assertSameAsFullRebuild(lh, last);
  } finally {
    await Deno.remove(lh, { recursive: true });
  }
});

Deno.test("gold: silver rows deleted since the last refresh are seen even through a checkpoint", async () => {
  const lh = await tempLakehouse();
  try {
    const { rows } = simulate({
      seed: 5,
      start: Date.UTC(2025, 0, 6, 8),
      intervalSeconds: 60,
      durationSeconds: 2 * 3600,
      topology: { buildings: 2, floors: 1 },
      faults: "none",
    });
    await writeSilver(lh, rows);
    await refreshGold(lh);
    // A deletion (dataChange=true), then a checkpoint: its tombstones all say dataChange=false,
    // so only the commit that removed the file tells a deletion from a compaction.
    const silverPath = join(lh, "silver");
    const silver = await loadSnapshot(silverPath);
    const victim = silver.files[0];
    await commit(silverPath, [{
      remove: {
        path: victim.path,
        deletionTimestamp: Date.now(),
        dataChange: true,
        partitionValues: victim.partitionValues,
        size: victim.size,
      },
    }], { readVersion: silver.version, operation: "DELETE" });
    await writeCheckpoint(silverPath);
    const after = await refreshGold(lh);
    assert.ok(after.every((r) => r.mode !== "unchanged"), JSON.stringify(after.map((r) => r.mode)));
    await assertSameAsFullRebuild(lh, after);
  } finally {
    await Deno.remove(lh, { recursive: true });
  }
});

Deno.test("gold: a backfill two days older than anything refreshed, through ingest-files: incremental = full", async () => {
  const lh = await tempLakehouse();
  const dir = await Deno.makeTempDir({ prefix: "gold-backfill-in-" });
  try {
    const day = 86_400_000;
    const start = Date.UTC(2025, 0, 10, 20);
    const sim = (from: number) =>
      simulate({
        seed: 5,
        start: from,
        intervalSeconds: 60,
        durationSeconds: 6 * 3600, // 20:00 to 02:00: two days each
        topology: { buildings: 1, floors: 2 },
        faults: "anomalies",
      }).rows.map((r) =>
        JSON.stringify({ ...r, timestamp: new Date(Number(r.timestamp)).toISOString() })
      );
    const ingest = async (name: string, lines: string[]) => {
      await Deno.writeTextFile(join(dir, name), lines.join("\n") + "\n");
      const r = await runTask("ingest-files", ["--dir", dir, "--lakehouse", lh]);
      assert.equal(r.code, 0, r.stderr);
    };
    await ingest("live.ndjson", sim(start));
    await refreshGold(lh);
    await ingest("archive.ndjson", sim(start - 2 * day));
    const inc = await refreshGold(lh);
    assert.ok(inc.every((r) => r.mode === "incremental"), JSON.stringify(inc.map((r) => r.mode)));
    const scope = inc.find((r) => r.table === "energy_daily")!.scope;
    assert.equal(scope, "2 day(s) in [2025-01-08, 2025-01-10)");
    const [dup] = await query(
      `SELECT count(*)::INTEGER AS n FROM (SELECT device_id, type, timestamp
       FROM delta_scan('${join(lh, "silver")}') GROUP BY ALL HAVING count(*) > 1)`,
    );
    assert.equal(dup.n, 0, "silver holds no key twice");
    await assertSameAsFullRebuild(lh, inc);
  } finally {
    await Deno.remove(lh, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gold: a band violation that lasts long enough only after several small refreshes is an alarm", async () => {
  // What gold --watch does now: a refresh per silver commit, each a minute of readings. The
  // violating device appears only after the first refreshes, and its episode's first reading is
  // older than every batch that extends it past the band rule's 5 minutes.
  const lh = await tempLakehouse();
  try {
    const start = Date.UTC(2025, 0, 6, 10);
    const co2 = { building: "A", floor: 1, type: "co2" };
    const rows = (m: number): SilverRow[] =>
      Array.from({ length: 6 }, (_, k) => start + m * 60_000 + k * 10_000).flatMap((ts) => [
        { ...co2, device_id: "A-F1-co2-01", timestamp: ts, value: 600 },
        ...(m >= 2 ? [{ ...co2, device_id: "A-F1-co2-02", timestamp: ts, value: 1800 }] : []),
      ]);
    let last: Awaited<ReturnType<typeof refreshGold>> = [];
    for (let m = 0; m < 12; m++) {
      await writeSilver(lh, rows(m));
      last = await refreshGold(lh, { alarmsFirst: true });
    }
    const { alarms } = await assertSameAsFullRebuild(lh, last);
    assert.ok(alarms >= 1, "the sustained band violation is an alarm");
  } finally {
    await Deno.remove(lh, { recursive: true });
  }
});
