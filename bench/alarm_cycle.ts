/**
 * The alarm path of one `gold --watch` cycle, without Kafka or consume (issue 28 point 3): what
 * a cycle costs as silver fills, and what a lever changes, measured in one process so that two
 * variants alternate cycle by cycle under the same machine load.
 *
 * ```
 * deno run --allow-read --allow-write --allow-ffi --allow-env --allow-sys=loadavg \
 *   bench/alarm_cycle.ts [--rate 10000] [--seconds 100] [--batch-ms 650] [--data sim|noise]
 * ```
 *
 * Silver gets `--rate` readings a second of event time (2,500 devices at 10k/s, 1 reading/s
 * each), one commit per `--batch-ms` of it, written straight through the Delta layer: by default
 * the alarm-latency bench's fleet (the simulator's liveSite, decoded as ingestion does), or
 * with `--data noise` uniform noise generated in SQL (faster to write, but far more z-score
 * buckets are suspect than on the simulator's signals). After each commit gold refreshes its alarm path as `gold --watch` does
 * with a newer version pending (alarms and incidents first, every aggregate deferred; the
 * readings cache), alternately with the watcher's kept DuckDB (src/gold/session.ts) and with
 * one opened for the refresh. Prints one line per cycle and the p50 per variant and half.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { appendQuery } from "../src/delta/table.ts";
import { ensureIngestTables } from "../src/pipeline/tables.ts";
import { refreshGold } from "../src/gold/refresh.ts";
import { ReadingsCache } from "../src/gold/readings_cache.ts";
import { GoldSession } from "../src/gold/session.ts";
import { percentile } from "./stats.ts";
import { liveSiteOptions } from "./sizes.ts";
import { simulate, writeSilver } from "../tests/gold_helpers.ts";
import { loadavg } from "./task_processes.ts";

/**
 * Silver rows of event time [from, to) (ms) for `devices` devices, one reading each a second,
 * each device at its own offset within the second (as a live fleet: every batch holds some).
 */
function fleetSql(fromMs: number, toMs: number, devices: number): string {
  const first = Math.floor(fromMs / 1000) * 1000;
  return `
    WITH d AS (SELECT i, i % 10 AS b, (i // 10) % 10 AS f, i % 4 AS t FROM range(${devices}) r(i)),
    s AS (SELECT d.*, sec + (i * 397) % 1000 AS ms
      FROM d, (SELECT unnest(range(${first}, ${toMs}, 1000)) AS sec)
      WHERE sec + (i * 397) % 1000 >= ${fromMs} AND sec + (i * 397) % 1000 < ${toMs})
    SELECT make_timestamptz(ms * 1000) AS timestamp,
      'b' || b || '-f' || f || '-' || i AS device_id, CAST(f AS INTEGER) AS floor,
      CASE t WHEN 0 THEN 21 + random() WHEN 1 THEN 45 + 5 * random()
        WHEN 2 THEN 600 + 50 * random() ELSE 1 + random() END AS value,
      CASE t WHEN 0 THEN 'C' WHEN 1 THEN '%' WHEN 2 THEN 'ppm' ELSE 'kWh' END AS unit,
      'bench:' || i || ':' || ms AS source, now() AS ingest_time,
      'b' || b AS building,
      CASE t WHEN 0 THEN 'temperature' WHEN 1 THEN 'humidity' WHEN 2 THEN 'co2'
        ELSE 'energy' END AS type
    FROM s`;
}

async function main() {
  const { values: o } = parseArgs({
    args: Deno.args,
    options: {
      rate: { type: "string", default: "10000" },
      seconds: { type: "string", default: "100" },
      "batch-ms": { type: "string", default: "650" },
      data: { type: "string", default: "sim" },
    },
  });
  const rate = Number(o.rate), seconds = Number(o.seconds), batchMs = Number(o["batch-ms"]);
  const dir = await Deno.makeTempDir({ prefix: "alarm-cycle-" });
  const lakehouse = join(dir, "lakehouse");
  await ensureIngestTables(lakehouse);
  const cache = new ReadingsCache(join(dir, "readings.duckdb"));
  const session = new GoldSession({ memoryLimit: "512MB" });
  const writer = await openDuckDB({ delta: false });
  const times = new Map<string, number[][]>([["kept", [[], []]], ["per refresh", [[], []]]]);
  console.error(`load ${loadavg().join(" ")}`);
  try {
    const start = Math.floor(Date.now() / 1000) * 1000 - seconds * 1000;
    const steps = Math.floor(seconds * 1000 / batchMs);
    // The simulator's readings, by event time (its options are liveSite's).
    const rows = o.data === "sim"
      ? simulate(liveSiteOptions(11, rate, seconds, start)).rows
        .sort((a, b) => Number(a.timestamp) - Number(b.timestamp))
      : [];
    let next = 0, cycles = 0, batchRows = 0;
    for (let k = 0; k < steps; k++) {
      const from = start + k * batchMs, to = from + batchMs;
      if (o.data === "sim") {
        const end = rows.findIndex((r, i) => i >= next && Number(r.timestamp) >= to);
        const batch = rows.slice(next, end < 0 ? rows.length : end);
        next += batch.length;
        batchRows = batch.length;
        if (batch.length > 0) await writeSilver(lakehouse, batch);
      } else {
        await appendQuery(writer.conn, join(lakehouse, "silver"), fleetSql(from, to, rate));
      }
      // The simulator's readings fall on whole seconds: a batch may hold none (no cycle then).
      if (o.data === "sim" && batchRows === 0) continue;
      const variant = cycles++ % 2 === 0 ? "kept" : "per refresh";
      const t0 = performance.now();
      const results = await refreshGold(lakehouse, {
        alarmsFirst: true,
        defer: () => cycles > 1,
        readingsCache: cache,
        memoryLimit: "512MB",
        session: variant === "kept" ? session : undefined,
      });
      const s = (performance.now() - t0) / 1000;
      if (cycles > 1) times.get(variant)![k < steps / 2 ? 0 : 1].push(s);
      const table = (n: string) => results.find((r) => r.table === n)?.seconds.toFixed(2);
      console.log(
        `cycle ${k} ${variant.padEnd(11)} ${s.toFixed(2)} s (alarms ${table("alarms")}, ` +
          `incidents ${table("incidents")}), cache ${cache.lastUse}`,
      );
    }
  } finally {
    session.close();
    writer.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const p50 = (xs: number[]) => xs.length ? percentile(xs, 50).toFixed(3) : "–";
  for (const [variant, [first, second]] of times) {
    console.log(`${variant}: cycle p50 ${p50(first)} s (first half), ${p50(second)} s (second)`);
  }
  console.error(`load ${loadavg().join(" ")}`);
}

if (import.meta.main) await main();
