/**
 * What the dashboard shows of the sensor catalogue: the types in catalogue order (the building
 * table's columns and the charts, one per type), their units as a reader expects them, and the
 * alarm limits shaded on the charts — all read from the catalogue's tables (sql/catalogue/,
 * the same rows the alarm rules join), so a type added to sensors.yaml appears without a code
 * change.
 *
 * @module
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import type { SensorCatalogue } from "../reading/catalogue.ts";
import { loadCatalogueTables } from "../reading/catalogue_sql.ts";
import { runQuery } from "./queries.ts";

/** One sensor type as the page shows it. */
export interface TypeView {
  type: string;
  /** Unit of the building table's values ("°C"; a counter's: its own, e.g. kWh in the hour). */
  unit: string;
  /** Unit of the chart lines: a counter is drawn as a rate per hour (kWh → kW). */
  chartUnit: string;
}

/** A type's comfort band and critical band, canonical units; null: no limit on that side. */
export interface Thresholds {
  warnLow: number | null;
  warnHigh: number | null;
  critLow: number | null;
  critHigh: number | null;
}

/** A canonical unit as printed: degrees get their sign ("C" → "°C"). */
export function displayUnit(unit: string): string {
  return unit === "C" || unit === "F" ? `°${unit}` : unit;
}

/**
 * The unit of a counter's rate per hour (sql/dashboard/series.sql): an energy unit loses its
 * hour (kWh per hour is kW), any other gains one (m3 → m3/h).
 */
export function rateUnit(unit: string): string {
  return /Wh$/.test(unit) ? unit.slice(0, -1) : `${displayUnit(unit)}/h`;
}

/** The catalogue's types, in its order, with the units the page prints. */
export function typeViews(cat: SensorCatalogue): TypeView[] {
  return [...cat.types.values()].map((t) => ({
    type: t.name,
    unit: displayUnit(t.unit),
    chartUnit: t.aggregate === "sum" ? rateUnit(t.unit) : displayUnit(t.unit),
  }));
}

/**
 * Loads the catalogue's tables into `conn` (the dashboard SQL joins sensor_types) and returns
 * the alarm limits per type, for the chart bands.
 */
export async function loadCatalogueView(
  conn: DuckDBConnection,
  cat: SensorCatalogue,
): Promise<Record<string, Thresholds>> {
  await loadCatalogueTables(conn, cat);
  const rows = await runQuery(
    conn,
    "SELECT type, warn_low, warn_high, crit_low, crit_high FROM alarm_thresholds",
  );
  const n = (v: unknown) => (v === null ? null : Number(v));
  return Object.fromEntries(rows.map((r) => [String(r.type), {
    warnLow: n(r.warn_low),
    warnHigh: n(r.warn_high),
    critLow: n(r.crit_low),
    critHigh: n(r.crit_high),
  }]));
}
