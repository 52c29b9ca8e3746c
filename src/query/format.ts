/**
 * Rendering query results for people and programs: `table` (aligned columns), `csv`, `json`
 * (one array) and `ndjson` (one object per line).
 *
 * Values are first reduced to JSON-safe cells, the same for every format: timestamps become UTC
 * ISO-8601 strings (`2025-01-13T06:00:00Z`, microseconds kept when present) so a reader never
 * has to guess a time zone; 64-bit integers become numbers when exactly representable, else
 * strings; decimals become numbers; lists and structs stay JSON.
 */
import type { DuckDBResultReader } from "@duckdb/node-api";

/** Output formats of the query CLI. */
export const FORMATS = ["table", "csv", "json", "ndjson"] as const;
export type Format = typeof FORMATS[number];

/** A JSON-safe cell. */
export type Cell = string | number | boolean | null | Cell[] | { [key: string]: Cell };

/** A result reduced to column names and JSON-safe rows. */
export interface ResultTable {
  columns: string[];
  /** Column type names as DuckDB prints them (e.g. "TIMESTAMP WITH TIME ZONE"). */
  types: string[];
  rows: Cell[][];
}

/** ISO-8601 UTC of epoch microseconds, with the fraction only as long as needed. */
export function isoFromMicros(micros: bigint): string {
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const sub = Number(((micros % 1000n) + 1000n) % 1000n);
  const base = new Date(Number(ms)).toISOString(); // …ss.mmmZ
  if (Number.isNaN(Date.parse(base))) return String(micros);
  // Whole seconds print bare; otherwise milliseconds, or microseconds when there are any.
  const frac = sub ? base.slice(20, 23) + String(sub).padStart(3, "0") : base.slice(20, 23);
  return `${base.slice(0, 19)}${/^0+$/.test(frac) ? "" : "." + frac}Z`;
}

function isInt64Type(type: string): boolean {
  return /^(BIGINT|UBIGINT|HUGEINT|UHUGEINT)$/.test(type);
}

function toCell(raw: unknown, json: unknown, type: string): Cell {
  if (raw === null || raw === undefined) return null;
  if (type === "TIMESTAMP WITH TIME ZONE" || /^TIMESTAMP(_S|_MS|_NS)?$/.test(type)) {
    const micros = (raw as { micros?: bigint }).micros;
    if (typeof micros === "bigint") return isoFromMicros(micros);
    return String(raw);
  }
  if (typeof raw === "bigint" || isInt64Type(type)) {
    const n = Number(raw);
    return Number.isSafeInteger(n) ? n : String(raw);
  }
  if (type.startsWith("DECIMAL")) return Number(String(raw));
  return json as Cell;
}

/** Reduces a DuckDB result to a ResultTable. */
export function toResultTable(result: DuckDBResultReader): ResultTable {
  const columns = result.columnNames();
  const types = result.columnTypes().map((t) => String(t));
  const raw = result.getRows();
  const json = result.getRowsJson();
  const rows = raw.map((r, i) => r.map((v, j) => toCell(v, json[i][j], types[j])));
  return { columns, types, rows };
}

function text(cell: Cell, forTable: boolean): string {
  if (cell === null) return forTable ? "NULL" : "";
  if (typeof cell === "number") {
    if (forTable && !Number.isInteger(cell)) return String(Number(cell.toFixed(6)));
    return String(cell);
  }
  if (typeof cell === "string" || typeof cell === "boolean") return String(cell);
  return JSON.stringify(cell);
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function objects(t: ResultTable): Record<string, Cell>[] {
  return t.rows.map((r) => Object.fromEntries(t.columns.map((c, i) => [c, r[i]])));
}

/** Renders a result in one of FORMATS (no trailing newline). */
export function formatResult(t: ResultTable, format: Format): string {
  switch (format) {
    case "csv":
      return [t.columns, ...t.rows.map((r) => r.map((c) => text(c, false)))]
        .map((r) => r.map(csvField).join(",")).join("\n");
    case "json":
      return JSON.stringify(objects(t), null, 2);
    case "ndjson":
      return objects(t).map((o) => JSON.stringify(o)).join("\n");
    case "table": {
      const cells = t.rows.map((r) => r.map((c) => text(c, true).replaceAll("\n", "\\n")));
      const numeric = t.rows.length > 0
        ? t.columns.map((_, j) => t.rows.every((r) => r[j] === null || typeof r[j] === "number"))
        : t.columns.map(() => false);
      const widths = t.columns.map((c, j) => Math.max(c.length, ...cells.map((r) => r[j].length)));
      const line = (r: string[]) =>
        r.map((v, j) => numeric[j] ? v.padStart(widths[j]) : v.padEnd(widths[j])).join("  ")
          .trimEnd();
      const out = [
        line(t.columns),
        widths.map((w) => "-".repeat(w)).join("  "),
        ...cells.map(line),
      ];
      out.push(`(${t.rows.length} row${t.rows.length === 1 ? "" : "s"})`);
      return out.join("\n");
    }
  }
}

/** Parses a --format value. */
export function isFormat(value: string): value is Format {
  return (FORMATS as readonly string[]).includes(value);
}
