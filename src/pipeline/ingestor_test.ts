import assert from "node:assert/strict";
import { loadSnapshot } from "../delta/snapshot.ts";
import { fileTier } from "../delta/optimize.ts";
import { Ingestor } from "./ingestor.ts";
import type { SourceRecord } from "./batch.ts";
import { fileRecord } from "./sources/file.ts";
import { INGEST_TABLES } from "./tables.ts";

function records(from: number, n: number): SourceRecord[] {
  const base = Date.UTC(2025, 11, 15);
  return Array.from({ length: n }, (_, i) => ({
    appId: "backlog-test-0",
    position: from + i,
    source: "kafka",
    topic: "t",
    partition: 0,
    key: null,
    kafkaTimestampMs: null,
    file: null,
    payload: JSON.stringify({
      timestamp: new Date(base + (from + i) * 1000).toISOString(),
      device_id: "d1",
      building: "A",
      floor: 1,
      type: "temperature",
      value: 21,
      unit: "C",
    }),
  }));
}

Deno.test("backlog mode: batches grow to backlogRows while the source is behind, and shrink back", async () => {
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-backlog-" });
  const ingestor = await Ingestor.open({
    lakehouse,
    queryId: "backlog",
    policy: { maxRows: 10, backlogRows: 40, maxBytes: 1 << 30, maxLatencyMs: 1e9 },
    compaction: { intervalMs: 0 },
  });
  const flushed: number[] = [];
  ingestor.observer = { flushed: (report) => flushed.push(report.records) };
  try {
    await ingestor.exclusive(async () => {
      ingestor.add(records(0, 25));
      assert.equal(ingestor.shouldFlush(), true, "25 buffered of maxRows 10");
      // Behind by less than maxRows: not a backlog.
      ingestor.reportBacklog("0", 9);
      assert.equal(ingestor.draining, false);
      ingestor.reportBacklog("0", 6);
      ingestor.reportBacklog("1", 6);
      assert.equal(ingestor.draining, true, "behind by 12 over two streams");
      assert.equal(ingestor.shouldFlush(), false, "25 buffered of backlogRows 40");
      ingestor.add(records(25, 15));
      assert.equal(ingestor.shouldFlush(), true, "40 buffered");
      await ingestor.flushNow();
      // addAll cuts batches at backlogRows while draining: 100 records, two flushes of 40.
      await ingestor.addAll(records(40, 100));
      ingestor.clearBacklog();
      assert.equal(ingestor.draining, false);
      assert.equal(ingestor.shouldFlush(), true, "20 buffered of maxRows 10");
      await ingestor.flushNow();
    });
    assert.deepEqual(flushed, [40, 40, 40, 20]);
    assert.equal(ingestor.totals.rows.bronze, 140);
    assert.equal(ingestor.totals.rows.silver, 140);
  } finally {
    await ingestor.close();
    await Deno.remove(lakehouse, { recursive: true });
  }
});

Deno.test("backlog mode is off when backlogRows is not above maxRows", async () => {
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-backlog-off-" });
  const ingestor = await Ingestor.open({
    lakehouse,
    queryId: "backlog-off",
    policy: { maxRows: 10, backlogRows: 0 },
    compaction: { intervalMs: 0 },
  });
  try {
    ingestor.reportBacklog("0", 1_000_000);
    assert.equal(ingestor.draining, false);
  } finally {
    await ingestor.close();
    await Deno.remove(lakehouse, { recursive: true });
  }
});

/** One flush's worth of file records: readings of two buildings (two silver partitions). */
function flushRecords(flush: number, n: number) {
  return Array.from({ length: n }, (_, i) => {
    const reading = {
      timestamp: new Date(Date.UTC(2026, 11, 7, 10) + (flush * n + i) * 1000).toISOString(),
      device_id: `d${i % 4}`,
      building: i % 2 ? "B" : "A",
      floor: 1,
      type: "temperature",
      value: 20 + i / 10,
      unit: "C",
    };
    return fileRecord(`file:f${flush}`, `f${flush}`, i, JSON.stringify(reading));
  });
}

Deno.test("auto-compaction by count: a partition never holds more than tierFiles small files of one tier; rows exact", async () => {
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-compact-count-" });
  const tierFiles = 3;
  const ing = await Ingestor.open({
    lakehouse,
    queryId: "count",
    compaction: { intervalMs: 0, tierFiles },
  });
  try {
    const flushes = 11;
    for (let k = 0; k < flushes; k++) {
      await ing.exclusive(async () => {
        ing.add(flushRecords(k, 20));
        await ing.flushNow();
      });
      for (const t of INGEST_TABLES) {
        const snap = await loadSnapshot(ing.writer.path(t), { tombstones: false });
        const perTier = Map.groupBy(
          snap.files,
          (f) => `${JSON.stringify(f.partitionValues)} tier ${fileTier(f)}`,
        );
        // A tier a pass just completed is compacted after the next flush.
        for (const [key, files] of perTier) {
          assert.ok(files.length <= tierFiles, `${t} after flush ${k}: ${key} has ${files.length}`);
        }
      }
    }
    // Per partition: flushes 0–8 made three tier-1 files, compacted into one tier-2 file after
    // flush 9; flushes 9 and 10 are still appended files (tier 0).
    const silver = await loadSnapshot(ing.writer.path("silver"), { tombstones: false });
    for (const b of ["A", "B"]) {
      const tiers = silver.files.filter((f) => f.partitionValues.building === b).map(fileTier);
      assert.deepEqual(tiers.sort(), [0, 0, 2], `building ${b}`);
    }
    const rows = silver.files.reduce((s, f) => s + JSON.parse(f.stats!).numRecords, 0);
    assert.equal(rows, flushes * 20);
    assert.ok(ing.totals.compactions > 0);
  } finally {
    await ing.close();
    await Deno.remove(lakehouse, { recursive: true });
  }
});
