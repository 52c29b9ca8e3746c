/**
 * The cost of a backfill next to the live path, without Kafka: the real Ingestor, fed
 * simulated readings the way a source feeds it (addAll, double-buffered flushes).
 *
 * 1. live: `silverRows` readings in event-time order into an empty lakehouse — every reading is
 *    decided by the in-memory dedup cache;
 * 2. backfill: a restarted ingestor (cache rebuilt from silver) gets `backfillRows` readings of
 *    the same site one day older than anything silver holds — every one is looked up in silver;
 * 3. resend: the same backfill again — every reading is found in silver (a duplicate).
 *
 * Run alone: `deno run --allow-read --allow-write --allow-ffi --allow-env
 * bench/backfill_bench.ts [silverRows=1000000] [backfillRows=100000]`.
 *
 * @module
 */
import { Ingestor } from "../src/pipeline/ingestor.ts";
import { fileRecord } from "../src/pipeline/sources/file.ts";
import { createSimulator } from "../src/simulator/simulator.ts";

export interface BackfillFigures {
  silverRows: number;
  backfillRows: number;
  liveRowsPerSec: number;
  backfillRowsPerSec: number;
  resendRowsPerSec: number;
  /** Rows silver gained from the backfill, and duplicates the resend found. */
  backfillSilverRows: number;
  resendDuplicates: number;
}

const DAY = 86_400_000;
const TOPOLOGY = { buildings: 5, floors: 10, devicesPerFloor: 5 };

/** Feeds `count` readings starting at `start` through `ingestor`; returns seconds taken. */
async function feed(
  ingestor: Ingestor,
  appId: string,
  start: number,
  count: number,
): Promise<number> {
  const sim = createSimulator({ seed: 7, start, count, faults: "none", topology: TOPOLOGY });
  const t0 = performance.now();
  let position = 0;
  for (;;) {
    const batch = sim.nextBatch(10_000);
    if (batch.length === 0) break;
    const records = batch.map((m) => fileRecord(appId, appId, position++, m.value));
    await ingestor.exclusive(() => ingestor.addAll(records));
  }
  await ingestor.exclusive(() => ingestor.flushNow());
  return (performance.now() - t0) / 1000;
}

const open = (lakehouse: string) =>
  Ingestor.open({
    lakehouse,
    queryId: "bench-backfill",
    compaction: { intervalMs: 0, tierFiles: 0 },
  });

export async function benchBackfill(
  silverRows: number,
  backfillRows: number,
  lakehouse?: string,
): Promise<BackfillFigures> {
  const dir = lakehouse ?? await Deno.makeTempDir({ prefix: "bench-backfill-" });
  // Live data ends well before the wall clock (no reading is in the future).
  const liveStart = Date.UTC(2025, 11, 1);
  try {
    let ingestor = await open(dir);
    const live = await feed(ingestor, "live", liveStart, silverRows);
    await ingestor.close();

    ingestor = await open(dir);
    const before = ingestor.totals.rows.silver;
    const backfill = await feed(ingestor, "archive", liveStart - DAY, backfillRows);
    const backfillSilverRows = ingestor.totals.rows.silver - before;
    await ingestor.close();

    ingestor = await open(dir);
    const resend = await feed(ingestor, "archive-copy", liveStart - DAY, backfillRows);
    const resendDuplicates = ingestor.totals.duplicates;
    await ingestor.close();
    return {
      silverRows,
      backfillRows,
      liveRowsPerSec: Math.round(silverRows / live),
      backfillRowsPerSec: Math.round(backfillRows / backfill),
      resendRowsPerSec: Math.round(backfillRows / resend),
      backfillSilverRows,
      resendDuplicates,
    };
  } finally {
    if (!lakehouse) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const [silverRows = 1_000_000, backfillRows = 100_000] = Deno.args.map(Number);
  console.log(JSON.stringify(await benchBackfill(silverRows, backfillRows)));
}
