/**
 * Where a consume flush spends its time, without Kafka: N simulated payloads are fed to the
 * real Ingestor in `maxRows` batches, timing `add` (decode, dedup, staging in JS) and the flush
 * (DuckDB staging → Parquet → three Delta commits) separately and sequentially. The pipeline
 * overlaps the two (double-buffered flushes), so its ceiling per core is about
 * 1 / max(add, flush) per message; the sum shows the CPU it needs.
 *
 * Run: `deno run --allow-read --allow-write --allow-ffi --allow-env bench/profile_ingest.ts
 * [messages=500000] [maxRows=50000] [future]` (add `--v8-flags=--prof` for a V8 profile of the JS part).
 *
 * @module
 */
import { Ingestor } from "../src/pipeline/ingestor.ts";
import type { SourceRecord } from "../src/pipeline/batch.ts";
import { createSimulator } from "../src/simulator/simulator.ts";

/** Seconds spent per phase. */
export interface IngestProfile {
  messages: number;
  maxRows: number;
  addSeconds: number;
  flushSeconds: number;
  addUsPerMsg: number;
  flushUsPerMsg: number;
}

/** Feeds `messages` simulated payloads through an Ingestor on a temp lakehouse. */
export async function profileIngest(
  messages = 500_000,
  maxRows = 50_000,
  /**
   * `past`: readings from 2025-12-15, valid; `future`: a day ahead of the clock, every one
   * quarantined as future_timestamp (the rejects path).
   */
  workload: "past" | "future" = "past",
): Promise<IngestProfile> {
  const lakehouse = await Deno.makeTempDir({ prefix: "profile-ingest-" });
  const enc = new TextEncoder();
  const sim = createSimulator({
    seed: 3,
    start: workload === "future" ? Date.now() + 86_400_000 : Date.UTC(2025, 11, 15),
    count: messages,
    faults: "light",
    topology: { buildings: 5, floors: 10, devicesPerFloor: 5 },
  });
  const ingestor = await Ingestor.open({
    lakehouse,
    queryId: "profile",
    policy: { maxRows, maxBytes: 1 << 30, maxLatencyMs: 1e9 },
    // consume's default (--duckdb-threads 1).
    threads: 1,
  });
  let add = 0, flush = 0, offset = 0;
  try {
    for (;;) {
      const batch = sim.nextBatch(maxRows);
      if (batch.length === 0) break;
      const records: SourceRecord[] = batch.map((m) => ({
        appId: "profile-t-0",
        position: offset++,
        source: "kafka",
        topic: "t",
        partition: 0,
        key: m.key,
        kafkaTimestampMs: m.eventTime,
        file: null,
        payload: enc.encode(m.value),
      }));
      const t0 = performance.now();
      ingestor.add(records);
      const t1 = performance.now();
      await ingestor.exclusive(() => ingestor.flushNow());
      add += t1 - t0;
      flush += performance.now() - t1;
    }
  } finally {
    await ingestor.close();
    await Deno.remove(lakehouse, { recursive: true });
  }
  return {
    messages,
    maxRows,
    addSeconds: Number((add / 1000).toFixed(2)),
    flushSeconds: Number((flush / 1000).toFixed(2)),
    addUsPerMsg: Number(((add * 1000) / messages).toFixed(2)),
    flushUsPerMsg: Number(((flush * 1000) / messages).toFixed(2)),
  };
}

if (import.meta.main) {
  console.log(
    JSON.stringify(
      await profileIngest(
        Number(Deno.args[0] ?? 500_000),
        Number(Deno.args[1] ?? 50_000),
        Deno.args[2] === "future" ? "future" : "past",
      ),
    ),
  );
}
