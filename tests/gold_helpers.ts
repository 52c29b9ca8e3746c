/**
 * Fixtures for the gold, alarm and query tests: silver tables written straight through the
 * Delta layer (no Kafka), from hand-made rows or from the seeded simulator.
 */
import { join } from "node:path";
import { appendQuery } from "../src/delta/table.ts";
import { ensureIngestTables } from "../src/pipeline/tables.ts";
import { openDuckDB, sqlString } from "../src/duckdb/engine.ts";
import { decodeReading } from "../src/reading/decode.ts";
import type { Episode } from "../src/simulator/faults.ts";
import { createSimulator, type SimulatorOptions } from "../src/simulator/simulator.ts";

/** One silver reading (timestamp as epoch ms or ISO). */
export interface SilverRow {
  timestamp: number | string;
  device_id: string;
  building: string;
  floor: number;
  type: string;
  value: number;
  unit?: string;
}

const UNITS: Record<string, string> = {
  temperature: "C",
  humidity: "%",
  co2: "ppm",
  energy: "kWh",
};

/** Appends rows to `<lakehouse>/silver` as one commit (creating the tables); returns the version. */
export async function writeSilver(lakehouse: string, rows: SilverRow[]): Promise<number> {
  await ensureIngestTables(lakehouse);
  const file = await Deno.makeTempFile({ suffix: ".ndjson" });
  try {
    const now = new Date().toISOString();
    const lines = rows.map((r, i) =>
      JSON.stringify({
        timestamp: typeof r.timestamp === "number"
          ? new Date(r.timestamp).toISOString()
          : r.timestamp,
        device_id: r.device_id,
        building: r.building,
        floor: r.floor,
        type: r.type,
        value: r.value,
        unit: r.unit ?? UNITS[r.type] ?? "",
        source: `file:test:${i}`,
        ingest_time: now,
      })
    );
    await Deno.writeTextFile(file, lines.join("\n") + "\n");
    const db = await openDuckDB({ delta: false });
    try {
      const { version } = await appendQuery(
        db.conn,
        join(lakehouse, "silver"),
        `SELECT CAST(timestamp AS TIMESTAMPTZ) AS timestamp, device_id, floor, value, unit, source,
           CAST(ingest_time AS TIMESTAMPTZ) AS ingest_time, building, type
         FROM read_json(${sqlString(file)}, format = 'newline_delimited', columns = {
           timestamp: 'VARCHAR', device_id: 'VARCHAR', building: 'VARCHAR', floor: 'INTEGER',
           type: 'VARCHAR', value: 'DOUBLE', unit: 'VARCHAR', source: 'VARCHAR',
           ingest_time: 'VARCHAR'})`,
      );
      return version;
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

/** Readings of a seeded simulation, decoded like ingestion does, and its truth episodes. */
export function simulate(opts: SimulatorOptions): { rows: SilverRow[]; episodes: Episode[] } {
  const sim = createSimulator(opts);
  const rows: SilverRow[] = [];
  const seen = new Set<string>();
  for (let m = sim.next(); m !== null; m = sim.next()) {
    const r = decodeReading(m.value);
    if (!r.ok) continue;
    const key = `${r.reading.deviceId}|${r.reading.timestamp}`;
    if (seen.has(key)) continue; // dedup, as silver does
    seen.add(key);
    rows.push({
      timestamp: r.reading.timestamp,
      device_id: r.reading.deviceId,
      building: r.reading.building,
      floor: r.reading.floor,
      type: r.reading.type,
      value: r.reading.value,
      unit: r.reading.unit,
    });
  }
  return { rows, episodes: sim.finish() };
}

/** A fresh temp lakehouse directory; remove it with `Deno.remove(dir, {recursive: true})`. */
export function tempLakehouse(prefix = "gold-test-"): Promise<string> {
  return Deno.makeTempDir({ prefix });
}
