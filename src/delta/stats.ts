/**
 * Per-file statistics (`add.stats`): numRecords, minValues, maxValues, nullCount.
 *
 * Readers skip files with these, so every bound must be conservative: a min must be <= every
 * value and a max >= every value. Hence timestamps are rounded outward to the millisecond
 * (min down, max up), strings are truncated to 32 code points only for the min (a truncated
 * max would be too small, so it is omitted), and NaN/infinite doubles drop the bound.
 * Booleans and binaries get null counts only.
 */
import { sqlIdent } from "../query/duckdb.ts";
import type { DeltaField } from "./schema.ts";

/** Longest string bound kept, in code points (Spark's default). */
export const STRING_STATS_PREFIX = 32;

/** SQL select-list items computing the stats of `fields` over a GROUP BY, 3 per field. */
export function statsSelectList(fields: DeltaField[]): string[] {
  const out: string[] = [];
  for (const f of fields) {
    const c = sqlIdent(f.name);
    out.push(`count(*) - count(${c})`);
    switch (f.type) {
      case "long":
      case "integer":
      case "short":
      case "byte":
        out.push(`min(${c})::VARCHAR`, `max(${c})::VARCHAR`);
        break;
      case "double":
      case "float":
        out.push(`min(${c})::DOUBLE::VARCHAR`, `max(${c})::DOUBLE::VARCHAR`);
        break;
      case "string":
        out.push(`min(${c})`, `max(${c})`);
        break;
      case "timestamp":
        out.push(`epoch_us(min(${c}))::VARCHAR`, `epoch_us(max(${c}))::VARCHAR`);
        break;
      case "date":
        out.push(`min(${c})::VARCHAR`, `max(${c})::VARCHAR`);
        break;
      default:
        out.push("NULL", "NULL");
    }
  }
  return out;
}

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
 * Builds the stats JSON string from one result row: `numRecords`, then 3 cells per field in
 * statsSelectList order. Returns the string and the null counts (for nullability checks).
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
