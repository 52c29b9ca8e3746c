import assert from "node:assert/strict";
import { openDuckDB } from "../duckdb/engine.ts";
import { parseCatalogue } from "./catalogue_file.ts";
import { loadCatalogueTables } from "./catalogue_sql.ts";

/** Two types, one with a spelling that would break SQL built as text. */
const CATALOGUE = parseCatalogue(
  `
types:
  temperature:
    unit: C
    units: {F: {scale: 5/9, offset: -160/9}}
    range: [-40, 85]
    thresholds: {warning: [18, 28], critical: [15, 32], max_step: 3, z_min_scale: 0.3,
      flatline_s: 600}
  pm25:
    unit: ug/m3
    units: {"µg/m³'); DROP TABLE x; --": {}}
    range: [0, 1000]
    aggregate: sum
fields:
  timestamp: [timestamp, ts]
  device_id: [device_id, meta.device]
`,
  "test.yaml",
);

Deno.test("catalogue tables: every type, spelling, alias and threshold, values bound", async () => {
  const db = await openDuckDB({ delta: false });
  try {
    await loadCatalogueTables(db.conn, CATALOGUE);
    const rows = async (sql: string) => (await db.conn.runAndReadAll(sql)).getRowObjectsJson();
    assert.deepEqual(await rows("SELECT * FROM sensor_types ORDER BY type"), [
      { type: "pm25", unit: "ug/m3", range_min: 0, range_max: 1000, aggregate: "sum" },
      { type: "temperature", unit: "C", range_min: -40, range_max: 85, aggregate: "mean" },
    ]);
    assert.deepEqual(
      await rows(`SELECT type, spelling, round(scale, 6) AS scale, round("offset", 6) AS "offset"
        FROM sensor_units ORDER BY type, spelling`),
      [
        { type: "pm25", spelling: "ug/m3", scale: 1, offset: 0 },
        { type: "pm25", spelling: "µg/m³'); DROP TABLE x; --", scale: 1, offset: 0 },
        { type: "temperature", spelling: "C", scale: 1, offset: 0 },
        { type: "temperature", spelling: "F", scale: 0.555556, offset: -17.777778 },
      ],
    );
    assert.deepEqual(
      await rows(
        "SELECT * FROM field_aliases WHERE field IN ('timestamp', 'device_id') ORDER BY ALL",
      ),
      [
        { field: "device_id", rank: 1, path: "device_id" },
        { field: "device_id", rank: 2, path: "meta.device" },
        { field: "timestamp", rank: 1, path: "timestamp" },
        { field: "timestamp", rank: 2, path: "ts" },
      ],
    );
    assert.deepEqual(await rows("SELECT * FROM alarm_thresholds ORDER BY type"), [
      {
        type: "pm25",
        warn_low: null,
        warn_high: null,
        crit_low: null,
        crit_high: null,
        max_step: null,
        max_step_ratio: null,
        z_min_scale: null,
        z_min_scale_rel: null,
        min_duration_s: null,
        flatline_s: null,
      },
      {
        type: "temperature",
        warn_low: 18,
        warn_high: 28,
        crit_low: 15,
        crit_high: 32,
        max_step: 3,
        max_step_ratio: null,
        z_min_scale: 0.3,
        z_min_scale_rel: null,
        min_duration_s: null,
        flatline_s: 600,
      },
    ]);
    // Loading again replaces, never duplicates.
    await loadCatalogueTables(db.conn, CATALOGUE);
    assert.deepEqual(await rows("SELECT count(*)::INTEGER AS n FROM sensor_types"), [{ n: 2 }]);
  } finally {
    db.close();
  }
});
