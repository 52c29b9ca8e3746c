/**
 * The dashboard's pure helpers, no server and no lakehouse: chart ranges, units as printed,
 * and what the health panel reads from a snapshot's file stats and txns (fabricated here).
 */
import assert from "node:assert/strict";
import type { Snapshot } from "../delta/snapshot.ts";
import { builtinCatalogue } from "../reading/catalogue_file.ts";
import { displayUnit, rateUnit, typeViews } from "./catalogue_view.ts";
import { isSeriesRange, seriesKeyString } from "./model.ts";
import {
  newestEventMs,
  partitionValues,
  snapshotRows,
  sourceWatermarks,
} from "./pipeline_health.ts";

/** A snapshot with only what the health helpers read. */
function fakeSnapshot(
  files: { stats?: string; partitionValues?: Record<string, string> }[],
  txns: [string, { version: number; lastUpdated?: number }][] = [],
): Snapshot {
  return { files, txns: new Map(txns) } as unknown as Snapshot;
}

Deno.test("chart ranges: only hour and day; keys serialise one way", () => {
  assert.ok(isSeriesRange("hour"));
  assert.ok(isSeriesRange("day"));
  assert.ok(!isSeriesRange("week"));
  assert.ok(!isSeriesRange("toString")); // not an inherited property
  assert.equal(seriesKeyString({ building: "A", range: "day" }), "A|day");
});

Deno.test("units: degrees get their sign, a counter is charted as a rate per hour", () => {
  assert.equal(displayUnit("C"), "°C");
  assert.equal(displayUnit("ppm"), "ppm");
  assert.equal(rateUnit("kWh"), "kW");
  assert.equal(rateUnit("m3"), "m3/h");
  const views = new Map(typeViews(builtinCatalogue()).map((v) => [v.type, v]));
  assert.deepEqual(views.get("temperature"), { type: "temperature", unit: "°C", chartUnit: "°C" });
  assert.deepEqual(views.get("energy"), { type: "energy", unit: "kWh", chartUnit: "kW" });
});

Deno.test("health from file stats: rows, newest event, partitions; unreadable stats skipped", () => {
  const snap = fakeSnapshot([
    {
      stats: '{"numRecords":10,"maxValues":{"timestamp":"2025-01-06T10:00:00.000Z"}}',
      partitionValues: { building: "B10" },
    },
    {
      stats: '{"numRecords":5,"maxValues":{"timestamp":"2025-01-06T11:30:00.000Z"}}',
      partitionValues: { building: "B2" },
    },
    { stats: "not json", partitionValues: { building: "B2" } },
    { partitionValues: { building: "" } },
  ]);
  assert.deepEqual(snapshotRows(snap), { rows: 15, files: 4 });
  assert.equal(newestEventMs(snap), Date.parse("2025-01-06T11:30:00Z"));
  // Natural order: B2 before B10.
  assert.deepEqual(partitionValues(snap, "building"), ["B2", "B10"]);
  assert.equal(newestEventMs(fakeSnapshot([])), null);
});

Deno.test("sourceWatermarks: one row per Kafka topic, one for all ingested files", () => {
  const snap = fakeSnapshot([], [
    ["smarttech-sensor_data-1", { version: 200, lastUpdated: 2000 }],
    ["smarttech-sensor_data-0", { version: 100, lastUpdated: 1000 }],
    ["file:a.jsonl", { version: 0, lastUpdated: 10 }],
    ["file:b.jsonl", { version: 0, lastUpdated: 30 }],
    ["file:c.jsonl", { version: 0, lastUpdated: 20 }],
    ["file:d.jsonl", { version: 0, lastUpdated: 5 }],
  ]);
  assert.deepEqual(sourceWatermarks(snap), [
    {
      source: "kafka smarttech-sensor_data",
      streams: 2,
      detail: ["p0 100", "p1 200"],
      lastUpdatedMs: 2000,
    },
    { source: "files", streams: 4, detail: ["b.jsonl", "c.jsonl", "a.jsonl"], lastUpdatedMs: 30 },
  ]);
});
