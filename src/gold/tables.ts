/**
 * The gold tables' definitions: name, Delta schema, partitioning and how each is refreshed.
 * The SQL that computes them lives in sql/gold/ and sql/alarms/; the schemas here are the
 * contract documented in docs/architecture.md ("Gold tables").
 */
import { joinLocation, resolveLocation } from "../storage/location.ts";
import type { DeltaField, TableSchema } from "../delta/schema.ts";

/**
 * How a table is refreshed:
 * - `windowed`: time windows partitioned by `day`; only the hours (or days, see `recompute`)
 *   touched by new silver files are recomputed, and the days holding them rewritten;
 * - `health`: one row per device, rewritten from recent silver + the previous rows;
 * - `alarms`: episodes, recomputed from a bounded lookback before the first touched reading;
 * - `incidents`: alarm episodes merged per series, recomputed from all of alarms (small).
 */
export type GoldKind = "windowed" | "health" | "alarms" | "incidents";

/** One gold table. */
export interface GoldTableDef {
  name: string;
  kind: GoldKind;
  schema: TableSchema;
  partitionColumns: string[];
  /** SQL file under sql/ computing it. */
  sqlFile: string;
  /**
   * `windowed` tables: the unit an incremental refresh recomputes (default "day"). "hour" for
   * tables whose windows fit in an hour: at 1 reading/s per device a day is millions of
   * readings, and new data touches an hour or two of it. "minute" for per-minute windows:
   * `gold --watch` refreshes every few seconds, and new data touches a minute or two of the
   * hour, so that their cost follows the new rows, not the hour's (issue 28).
   */
  recompute?: "minute" | "hour" | "day";
  /**
   * `recompute: "minute" | "hour"`: the column holding each row's window start (default
   * window_start).
   */
  windowColumn?: string;
  /**
   * `recompute: "day"`: a catalogue view (sql/catalogue/tables.sql) listing the only sensor
   * types the SQL reads (their partitions alone are read).
   */
  typesFrom?: "energy_types";
  description: string;
}

const f = (name: string, type: DeltaField["type"], nullable = true): DeltaField => ({
  name,
  type,
  nullable,
});

const STATS: DeltaField[] = [
  f("avg", "double"),
  f("min", "double"),
  f("max", "double"),
  f("count", "long"),
  f("p95", "double"),
];

const readings: TableSchema = {
  fields: [
    f("day", "date", false),
    f("window_start", "timestamp", false),
    f("building", "string"),
    f("floor", "integer"),
    f("type", "string"),
    f("device_id", "string"),
    ...STATS,
  ],
};

const floors: TableSchema = {
  fields: [
    f("day", "date", false),
    f("window_start", "timestamp", false),
    f("building", "string"),
    f("floor", "integer"),
    f("type", "string"),
    ...STATS,
    f("devices", "long"),
  ],
};

/** gold/incidents (sql/alarms/_incidents.sql): alarm episodes of one series merged. */
export const INCIDENTS_SCHEMA: TableSchema = {
  fields: [
    f("incident_id", "string", false),
    f("severity", "string", false),
    f("device_id", "string"),
    f("building", "string"),
    f("floor", "integer"),
    f("type", "string"),
    f("rules", "string", false),
    f("episodes", "long", false),
    f("started_at", "timestamp", false),
    f("ended_at", "timestamp"),
    f("peak_value", "double"),
    f("peak_unit", "string"),
    f("threshold", "double"),
    f("threshold_unit", "string"),
    f("threshold_rule", "string"),
  ],
};

/**
 * Gold tables in refresh order (alarms after energy_hourly, which the energy rule reads;
 * incidents last: they read alarms and device_health).
 */
export const GOLD_TABLES: readonly GoldTableDef[] = [
  {
    name: "readings_1m",
    kind: "windowed",
    recompute: "minute",
    schema: readings,
    partitionColumns: ["day"],
    sqlFile: "gold/readings_1m.sql",
    description: "Per device per minute: avg, min, max, count, p95",
  },
  {
    name: "readings_1h",
    kind: "windowed",
    recompute: "hour",
    schema: readings,
    partitionColumns: ["day"],
    sqlFile: "gold/readings_1h.sql",
    description: "Per device per hour: avg, min, max, count, p95",
  },
  {
    name: "floor_1m",
    kind: "windowed",
    recompute: "minute",
    schema: floors,
    partitionColumns: ["day"],
    sqlFile: "gold/floor_1m.sql",
    description: "Per building/floor/type per minute: avg, min, max, count, p95, devices",
  },
  {
    name: "floor_1h",
    kind: "windowed",
    recompute: "hour",
    schema: floors,
    partitionColumns: ["day"],
    sqlFile: "gold/floor_1h.sql",
    description: "Per building/floor/type per hour: avg, min, max, count, p95, devices",
  },
  {
    name: "energy_hourly",
    kind: "windowed",
    recompute: "hour",
    windowColumn: "hour_start",
    schema: {
      fields: [
        f("day", "date", false),
        f("hour_start", "timestamp", false),
        f("building", "string"),
        f("kwh", "double"),
        f("readings", "long"),
        f("meters", "long"),
      ],
    },
    partitionColumns: ["day"],
    sqlFile: "gold/energy_hourly.sql",
    description: "kWh per building per hour",
  },
  {
    name: "energy_daily",
    kind: "windowed",
    typesFrom: "energy_types",
    schema: {
      fields: [
        f("day", "date", false),
        f("building", "string"),
        f("kwh", "double"),
        f("readings", "long"),
        f("meters", "long"),
      ],
    },
    partitionColumns: ["day"],
    sqlFile: "gold/energy_daily.sql",
    description: "kWh per building per day",
  },
  {
    name: "device_health",
    kind: "health",
    schema: {
      fields: [
        f("device_id", "string", false),
        f("building", "string"),
        f("floor", "integer"),
        f("type", "string"),
        f("last_seen", "timestamp"),
        f("as_of", "timestamp"),
        f("readings_last_hour", "long"),
        f("readings_per_minute", "double"),
        f("expected_interval_s", "double"),
        f("silent", "boolean"),
        f("status", "string"),
      ],
    },
    partitionColumns: [],
    sqlFile: "gold/device_health.sql",
    description: "Per device: last seen, readings per minute, expected interval, silent, status",
  },
  {
    name: "alarms",
    kind: "alarms",
    schema: {
      fields: [
        f("alarm_id", "string", false),
        f("rule", "string", false),
        f("severity", "string", false),
        f("device_id", "string"),
        f("building", "string"),
        f("floor", "integer"),
        f("type", "string"),
        f("started_at", "timestamp", false),
        f("ended_at", "timestamp"),
        f("peak_value", "double"),
        f("readings", "long"),
        f("threshold", "double"),
      ],
    },
    partitionColumns: [],
    sqlFile: "alarms/_episodes.sql",
    description:
      "Anomaly alarm episodes (sql/alarms/*.sql; limits per type in sensors.yaml, per rule in sql/alarms/thresholds.sql)",
  },
  {
    name: "incidents",
    kind: "incidents",
    schema: INCIDENTS_SCHEMA,
    partitionColumns: [],
    sqlFile: "alarms/_incidents.sql",
    description: "Alarm episodes of one series that overlap or are adjacent, as one incident",
  },
];

/** Where a gold table lives: `<lakehouse>/gold/<name>`. */
export function goldTablePath(lakehouse: string, name: string): string {
  return joinLocation(resolveLocation(lakehouse), "gold", name);
}

/** The txn appId under which a gold table records the silver version it was built from. */
export function goldTxnAppId(name: string): string {
  return `gold-${name}-silver`;
}
