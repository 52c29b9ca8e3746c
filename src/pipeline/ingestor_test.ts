import assert from "node:assert/strict";
import { loadSnapshot } from "../delta/snapshot.ts";
import { fileTier } from "../delta/optimize.ts";
import { Ingestor } from "./ingestor.ts";
import { fileRecord } from "./sources/file.ts";
import { INGEST_TABLES } from "./tables.ts";

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
