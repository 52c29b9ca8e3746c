/**
 * gold --watch's scheduling (src/gold/schedule.ts): the alarm path runs on every silver version
 * and the aggregates may wait, without changing any alarm or incident — a lakehouse whose
 * aggregates are deferred on most refreshes holds, at every silver version, exactly the alarms
 * and incidents of one refreshed in full order, and every table catches up once nothing waits.
 */
import assert from "node:assert/strict";
import { writeCheckpoint } from "../src/delta/checkpoint.ts";
import { optimize } from "../src/delta/table.ts";
import { openDuckDB, sqlIdent } from "../src/duckdb/engine.ts";
import { refreshGold } from "../src/gold/refresh.ts";
import { AggregateCadence, baselineTouched, healthRebuilt, WEEK_MS } from "../src/gold/schedule.ts";
import { GOLD_TABLES, goldTablePath } from "../src/gold/tables.ts";
import { type CacheUse, ReadingsCache } from "../src/gold/readings_cache.ts";
import { GoldSession } from "../src/gold/session.ts";
import { basename, join } from "node:path";
import { HOUR_MS } from "../src/gold/intervals.ts";
import { snapshotScanSql } from "../src/delta/scan.ts";
import { loadSnapshot } from "../src/delta/snapshot.ts";
import { Prng } from "../src/simulator/prng.ts";
import { type SilverRow, simulate, tempLakehouse, writeSilver } from "./gold_helpers.ts";

Deno.test("schedule: energy_hourly precedes the alarms only for rows a week older than the newest", () => {
  const newest = Date.UTC(2025, 0, 20, 10, 30);
  const change = (from: number) => ({
    ranges: [[from, newest]] as [number, number][],
    added: [],
    removedData: false,
  });
  assert.equal(baselineTouched(null, newest), true);
  assert.equal(baselineTouched({ ranges: null, added: [], removedData: true }, newest), true);
  assert.equal(baselineTouched({ ranges: [], added: [], removedData: false }, newest), false);
  assert.equal(baselineTouched(change(newest - 5_000), newest), false);
  assert.equal(baselineTouched(change(newest - 6 * 24 * HOUR_MS), newest), false);
  // 09:xx a week before is the baseline of today's 10:xx buckets' previous hour only from 10:00 on:
  // the hour starting exactly a week before the newest hour is a baseline; an hour later is not.
  const newestHour = Date.UTC(2025, 0, 20, 10);
  assert.equal(baselineTouched(change(newestHour - WEEK_MS + 59 * 60_000), newest), true);
  assert.equal(baselineTouched(change(newestHour - WEEK_MS + HOUR_MS), newest), false);
});

Deno.test("schedule: device_health precedes the incidents only when it cannot be topped up", () => {
  assert.equal(healthRebuilt(null), true);
  assert.equal(healthRebuilt({ ranges: null, added: [], removedData: true }), true);
  assert.equal(healthRebuilt({ ranges: [[0, 1]], added: [], removedData: true }), true);
  assert.equal(healthRebuilt({ ranges: [[0, 1]], added: [], removedData: false }), false);
});

Deno.test("schedule: with a version pending, the stalest due aggregate only; idle, all of them", () => {
  let now = 0;
  const c = new AggregateCadence(5000, () => now);
  const cycle = (pending: boolean, ran: string[] = []) => {
    c.begin();
    for (const t of ["readings_1m", "floor_1m", "energy_daily"]) {
      if (!c.mayDefer(t, pending)) {
        ran.push(t);
        c.upToDate(t);
      }
    }
    return ran;
  };
  // The first cycle builds every table, pending or not.
  assert.deepEqual(cycle(true), ["readings_1m", "floor_1m", "energy_daily"]);
  now = 3000;
  assert.deepEqual(cycle(true), []); // nothing due: every aggregate waits
  now = 4000;
  c.upToDate("readings_1m"); // e.g. found unchanged by an idle cycle
  now = 6000;
  // floor_1m and energy_daily (6 s) are due, readings_1m (2 s) is not: one per cycle.
  assert.deepEqual(cycle(true), ["floor_1m"]);
  now = 7000;
  assert.deepEqual(cycle(true), ["energy_daily"]);
  now = 9500;
  // readings_1m (5.5 s) and floor_1m (3.5 s): only readings_1m is due.
  assert.deepEqual(cycle(true), ["readings_1m"]);
  now = 12_000;
  // floor_1m (6 s) and energy_daily (5 s) due: the stalest first, the other next cycle.
  assert.deepEqual(cycle(true), ["floor_1m"]);
  now = 12_500;
  assert.deepEqual(cycle(true), ["energy_daily"]);
  now = 13_000;
  assert.deepEqual(cycle(false), ["readings_1m", "floor_1m", "energy_daily"]); // idle: all
});

/** A table's rows at its latest version, doubles rounded, as sorted JSON lines. */
async function rowsOf(lh: string, name: string): Promise<string[]> {
  const def = GOLD_TABLES.find((d) => d.name === name)!;
  const cols = def.schema.fields.map((f) =>
    f.type === "double" ? `round(${sqlIdent(f.name)}, 6) AS ${sqlIdent(f.name)}` : sqlIdent(f.name)
  );
  const db = await openDuckDB();
  try {
    const rows = (await db.conn.runAndReadAll(
      `SELECT ${cols.join(", ")} FROM (${
        snapshotScanSql(await loadSnapshot(goldTablePath(lh, name), { tombstones: false }))
      })`,
    )).getRowObjectsJson();
    return rows.map((r) => JSON.stringify(r)).sort();
  } finally {
    db.close();
  }
}

Deno.test("schedule: deferred aggregates, the readings cache and one kept DuckDB change no alarm or incident, and catch up", async () => {
  const deferred = await tempLakehouse("gold-schedule-");
  const reference = await tempLakehouse("gold-schedule-ref-");
  const cache = new ReadingsCache(join(deferred, "..", `${basename(deferred)}-cache.duckdb`));
  // As gold --watch: every refresh of the deferred lakehouse on the same DuckDB.
  const session = new GoldSession();
  const uses: (CacheUse | null)[] = [];
  try {
    const start = Date.UTC(2025, 0, 6, 18);
    const { rows } = simulate({
      seed: 17,
      start,
      intervalSeconds: 20,
      durationSeconds: 6 * 3600,
      topology: { buildings: 2, floors: 1 },
      faults: "anomalies",
    });
    const rng = new Prng(17);
    const t = (r: SilverRow) => Number(r.timestamp);
    const steps = 6;
    const cuts = Array.from({ length: steps + 1 }, (_, k) => start + k * 3600_000);
    let held: SilverRow[] = [];
    let incidents = 0;
    for (let k = 0; k < steps; k++) {
      const slice = rows.filter((r) => t(r) >= cuts[k] && (k === steps - 1 || t(r) < cuts[k + 1]));
      const late = held.filter(() => rng.next() < 0.5);
      held = [...held.filter((r) => !late.includes(r)), ...slice.filter(() => rng.next() < 0.05)];
      const now = [...slice.filter((r) => !held.includes(r)), ...late];
      if (k === steps - 1) now.push(...held);
      // The deferred lakehouse gets the rows in two commits, compacted on odd steps (new rows
      // its gold has not seen moved into compaction outputs) and checkpointed on one (adds then
      // read with dataChange=false): neither may change a result.
      const half = Math.floor(now.length / 2);
      await writeSilver(deferred, now.slice(0, half));
      await writeSilver(deferred, now.slice(half));
      if (k % 2 === 1) await optimize(join(deferred, "silver"));
      if (k === 3) await writeCheckpoint(join(deferred, "silver"));
      await writeSilver(reference, now);
      // The first refresh builds everything; then every aggregate waits on most steps.
      const ran = await refreshGold(deferred, {
        alarmsFirst: true,
        defer: () => k > 0 && k % 3 !== 0,
        readingsCache: cache,
        session,
      });
      uses.push(cache.lastUse);
      await refreshGold(reference);
      const order = ran.map((r) => r.table);
      if (k > 0 && k % 3 !== 0) assert.deepEqual(order, ["alarms", "incidents"], `step ${k}`);
      for (const table of ["alarms", "incidents"]) {
        assert.deepEqual(
          await rowsOf(deferred, table),
          await rowsOf(reference, table),
          `${table} after step ${k}`,
        );
      }
      incidents = (await rowsOf(reference, "incidents")).length;
    }
    assert.ok(incidents > 0, "the anomalies profile opens incidents");
    // Step 0 is a full build (no cache); late rows reach before the cache's start: rebuilt.
    assert.equal(uses[0], null);
    assert.ok(uses.includes("topped-up"), JSON.stringify(uses));
    assert.ok(uses.includes("rebuilt"), JSON.stringify(uses));
    assert.ok(uses.includes("reloaded"), JSON.stringify(uses));
    // One more batch with nothing deferred: the aggregates read the cache synced by the alarms.
    const more = rows.filter((r) => t(r) >= cuts[steps] - 600_000)
      .map((r) => ({ ...r, timestamp: t(r) + 900_000 }));
    await writeSilver(deferred, more);
    await writeSilver(reference, more);
    await refreshGold(reference);
    await refreshGold(deferred, {
      alarmsFirst: true,
      defer: () => false,
      readingsCache: cache,
      session,
    });
    assert.equal(cache.lastUse, "topped-up");
    assert.equal(session.opened, 1, "one DuckDB for every refresh");
    for (const def of GOLD_TABLES) {
      assert.deepEqual(
        await rowsOf(deferred, def.name),
        await rowsOf(reference, def.name),
        def.name,
      );
    }
  } finally {
    session.close();
    await Deno.remove(deferred, { recursive: true });
    await Deno.remove(reference, { recursive: true });
    await Deno.remove(cache.file).catch(() => {});
    await Deno.remove(`${cache.file}.wal`).catch(() => {});
  }
});
