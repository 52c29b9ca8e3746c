import assert from "node:assert/strict";
import { Ingestor } from "./ingestor.ts";
import type { SourceRecord } from "./batch.ts";

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
