/**
 * Per-file statistics (`add.stats`): numRecords, minValues, maxValues, nullCount.
 *
 * Readers skip files with these, so every bound must be conservative: a min must be <= every
 * value and a max >= every value. Hence timestamps are rounded outward to the millisecond
 * (min down, max up), strings are truncated to 32 code points only for the min (a truncated
 * max would be too small, so it is omitted), and NaN/infinite doubles drop the bound.
 * Booleans and binaries get null counts only.
 *
 * The bounds come from the Parquet writer itself (`COPY … RETURN_STATS`, see
 * {@link cellsFromColumnStatistics}): it keeps min/max while encoding, so no second pass over
 * the rows is needed. It leaves out the bounds of strings longer than a few hundred bytes and
 * of all-NULL columns, which only loses skipping, never correctness.
 */
import { DeltaError } from "./errors.ts";
import type { DeltaField } from "./schema.ts";

/** Longest string bound kept, in code points (Spark's default). */
export const STRING_STATS_PREFIX = 32;

function isoMillis(ms: bigint): string | undefined {
  const n = Number(ms);
  if (!Number.isSafeInteger(n)) return undefined;
  const d = new Date(n);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}

function bound(f: DeltaField, raw: unknown, which: "min" | "max"): unknown {
  if (raw === null || raw === undefined) return undefined;
  const s = String(raw);
  switch (f.type) {
    case "long":
    case "integer":
    case "short":
    case "byte": {
      const n = Number(s);
      // Beyond 2^53 a JSON number would round (possibly inward): drop the bound instead.
      return Number.isSafeInteger(n) ? n : undefined;
    }
    case "double":
    case "float": {
      const n = Number(s);
      return Number.isFinite(n) ? n : undefined;
    }
    case "string": {
      const cps = Array.from(s);
      if (cps.length <= STRING_STATS_PREFIX) return s;
      return which === "min" ? cps.slice(0, STRING_STATS_PREFIX).join("") : undefined;
    }
    case "timestamp": {
      const us = BigInt(s);
      const ms = which === "min" ? floorDiv(us, 1000n) : -floorDiv(-us, 1000n);
      return isoMillis(ms);
    }
    case "date":
      return /^\d{4}-\d{2}-\d{2}$/.test(s) ? s : undefined;
    default:
      return undefined;
  }
}

/**
 * Builds the stats JSON string from one result row: `numRecords`, then 3 cells per field (null
 * count, min, max). Returns the string and the null counts (for nullability checks).
 */
export function statsJson(
  fields: DeltaField[],
  numRecords: number,
  cells: unknown[],
): { json: string; nullCount: Record<string, number> } {
  const minValues: Record<string, unknown> = {};
  const maxValues: Record<string, unknown> = {};
  const nullCount: Record<string, number> = {};
  fields.forEach((f, i) => {
    nullCount[f.name] = Number(cells[3 * i]);
    const lo = bound(f, cells[3 * i + 1], "min");
    const hi = bound(f, cells[3 * i + 2], "max");
    if (lo !== undefined) minValues[f.name] = lo;
    if (hi !== undefined) maxValues[f.name] = hi;
  });
  return { json: JSON.stringify({ numRecords, minValues, maxValues, nullCount }), nullCount };
}

/** Statistics of one column of one written file, as DuckDB's `COPY … RETURN_STATS` gives them. */
export type ColumnStatistics = Readonly<Record<string, string | null | undefined>>;

/**
 * `timestamp` text as DuckDB prints it (`2025-12-15 10:00:00.123456+00`; no offset for a naive
 * timestamp, taken as UTC) → epoch microseconds; undefined when the form is not recognised
 * (BC years, infinities), which drops the bound.
 */
export function timestampTextToMicros(text: string): bigint | undefined {
  const m =
    /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-]\d\d)(?::(\d\d))?)?$/
      .exec(text);
  if (!m) return undefined;
  const d = new Date(Date.UTC(2000, Number(m[2]) - 1, Number(m[3]), +m[4], +m[5], +m[6]));
  d.setUTCFullYear(Number(m[1]));
  const ms = d.getTime();
  if (!Number.isSafeInteger(ms)) return undefined;
  const offsetMin = m[8] === undefined
    ? 0
    : (m[8].startsWith("-") ? -1 : 1) * (Math.abs(Number(m[8])) * 60 + Number(m[9] ?? 0));
  return BigInt(ms - offsetMin * 60_000) * 1000n + BigInt((m[7] ?? "").padEnd(6, "0"));
}

/**
 * The cells statsJson takes (null count, min, max per field) from the per-column statistics
 * of one written file. A double column holding NaN keeps no max (DuckDB's max() would be NaN);
 * a float's decimal text is not exact as a JSON double, so floats keep null counts only.
 */
export function cellsFromColumnStatistics(
  fields: DeltaField[],
  columns: ReadonlyMap<string, ColumnStatistics>,
): unknown[] {
  const cells: unknown[] = [];
  for (const f of fields) {
    const st = columns.get(f.name);
    if (!st || st.null_count == null) {
      throw new DeltaError(`the Parquet writer returned no statistics for column "${f.name}"`);
    }
    let lo: unknown = st.min ?? null;
    let hi: unknown = st.max ?? null;
    if (f.type === "timestamp") {
      lo = lo === null ? null : timestampTextToMicros(String(lo))?.toString() ?? null;
      hi = hi === null ? null : timestampTextToMicros(String(hi))?.toString() ?? null;
    } else if (f.type === "float") lo = hi = null;
    else if (f.type === "double" && st.has_nan === "true") hi = null;
    cells.push(st.null_count, lo, hi);
  }
  return cells;
}
