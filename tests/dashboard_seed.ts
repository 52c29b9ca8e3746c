/**
 * A small, real lakehouse for the dashboard tests and measurements: simulated readings go
 * through the ingestion code (bronze, silver, quarantine exactly as in production), and gold
 * through `refreshGold` of `src/gold/refresh.ts`, as `deno task gold` builds it.
 *
 * Run directly to build one for a manual look: `deno run -A tests/dashboard_seed.ts <dir>`.
 */
import { Ingestor } from "../src/pipeline/ingestor.ts";
import type { SourceRecord } from "../src/pipeline/batch.ts";
import { createSimulator } from "../src/simulator/simulator.ts";
import { appendQuery } from "../src/delta/table.ts";
import { openDuckDB, sqlString } from "../src/duckdb/engine.ts";
import { ensureGoldTable, refreshGold } from "../src/gold/refresh.ts";
import { GOLD_TABLES, goldTablePath } from "../src/gold/tables.ts";

/** gold/alarms as the gold refresh defines it (docs/architecture.md). */
const ALARMS_DEF = GOLD_TABLES.find((d) => d.name === "alarms")!;

/** One alarm row to write (timestamps as epoch ms). */
export interface SeedAlarm {
  alarmId: string;
  rule: string;
  severity: "warning" | "critical";
  deviceId: string | null;
  building: string;
  floor: number | null;
  type: string;
  startedAt: number;
  endedAt: number | null;
  peakValue: number;
  readings: number;
  threshold: number;
}

/** What a seed run produced, for assertions. */
export interface SeedResult {
  buildings: string[];
  /** Newest event time written, ms: the dashboard's "now". */
  newestEventMs: number;
  silverRows: number;
}

/** Options of {@link seedLakehouse}; defaults keep the test lean (~2,000 readings). */
export interface SeedOptions {
  buildings?: number;
  floors?: number;
  /** Hours of event time ending at `end` (default 2). */
  hours?: number;
  intervalSeconds?: number;
  /** Event time of the last reading, ms (default a fixed instant, so runs are comparable). */
  end?: number;
  faults?: string;
}

/** Writes simulated readings through the Ingestor, then gold (see module doc). */
export async function seedLakehouse(
  lakehouse: string,
  opts: SeedOptions = {},
): Promise<SeedResult> {
  const hours = opts.hours ?? 2;
  const intervalSeconds = opts.intervalSeconds ?? 60;
  const end = opts.end ?? Date.UTC(2025, 11, 15, 12);
  const sim = createSimulator({
    seed: 7,
    start: end - hours * 3_600_000,
    intervalSeconds,
    durationSeconds: hours * 3600,
    topology: { buildings: opts.buildings ?? 2, floors: opts.floors ?? 2, devicesPerFloor: 1 },
    faults: opts.faults ?? "light",
  });
  const records: SourceRecord[] = [];
  for (let m = sim.next(), i = 0; m; m = sim.next(), i++) {
    records.push({
      appId: "file:dashboard_seed.json:0:0",
      position: i,
      source: "file",
      topic: null,
      partition: null,
      key: m.key,
      kafkaTimestampMs: null,
      file: "dashboard_seed.json",
      payload: m.value,
    });
  }
  const ingestor = await Ingestor.open({ lakehouse, queryId: "dashboard-seed" });
  try {
    await ingestor.exclusive(() => ingestor.addAll(records));
  } finally {
    await ingestor.close();
  }
  await buildGold(lakehouse);
  return {
    buildings: sim.topology.buildings,
    newestEventMs: ingestor.totals.newestEventMs,
    silverRows: ingestor.totals.rows.silver,
  };
}

/**
 * Gold through the project's own refresh (src/gold/), then an empty alarms table if the
 * refresh found no alarm to write, so the test can append one after the page has loaded.
 */
async function buildGold(lakehouse: string): Promise<void> {
  await refreshGold(lakehouse, { threads: 1 });
  await ensureGoldTable(lakehouse, ALARMS_DEF);
}

/** Appends alarm rows to gold/alarms as one commit (creating the table if needed). */
export async function appendAlarms(lakehouse: string, alarms: SeedAlarm[]): Promise<number> {
  const path = goldTablePath(lakehouse, "alarms");
  await ensureGoldTable(lakehouse, ALARMS_DEF);
  const ts = (ms: number | null) =>
    ms === null ? "NULL::TIMESTAMPTZ" : `make_timestamp(${Math.round(ms * 1000)})::TIMESTAMPTZ`;
  const str = (s: string | null) => (s === null ? "NULL" : sqlString(s));
  const rows = alarms.map((a) =>
    `(${str(a.alarmId)}, ${str(a.rule)}, ${str(a.severity)}, ${str(a.deviceId)}, ${
      str(a.building)
    }, ${a.floor ?? "NULL"}::INTEGER, ${str(a.type)}, ${ts(a.startedAt)}, ${ts(a.endedAt)}, ${
      Number(a.peakValue)
    }::DOUBLE, ${Math.round(a.readings)}::BIGINT, ${Number(a.threshold)}::DOUBLE)`
  );
  const db = await openDuckDB({ delta: false, threads: 1 });
  try {
    const sql = `SELECT * FROM (VALUES ${rows.join(", ")}) AS t(alarm_id, rule, severity,
      device_id, building, floor, type, started_at, ended_at, peak_value, readings, threshold)`;
    const { version } = await appendQuery(db.conn, path, sql);
    return version;
  } finally {
    db.close();
  }
}

if (import.meta.main) {
  const dir = Deno.args[0] ?? "./lakehouse";
  const hours = Number(Deno.args[1] ?? 2);
  const result = await seedLakehouse(dir, { hours, buildings: 3, floors: 3, intervalSeconds: 30 });
  console.log(JSON.stringify(result));
}
