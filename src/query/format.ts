/**
 * Rendering query results for people and programs: `table` (aligned columns), `csv`, `json`
 * (one array) and `ndjson` (one object per line).
 *
 * Values are first reduced to JSON-safe cells, the same for every format: timestamps become UTC
 * ISO-8601 strings (`2025-01-13T06:00:00Z`, microseconds kept when present) so a reader never
 * has to guess a time zone; 64-bit integers become numbers when exactly representable, else
 * strings; decimals become numbers; INTERVALs become ISO-8601 durations (`P1DT2H30M`); lists and
 * structs stay JSON.
 *
 * The `table` format is for a terminal, so it never passes text through raw: control and
 * bidirectional-override characters are shown escaped (`\x1b`, `\u202e`), over-wide cells are cut
 * with `…` (TableOptions.maxWidth), long results show their first and last rows
 * (TableOptions.maxRows), large numbers get thousands separators, INTERVALs read as durations
 * (`1d 2h 30m`) and small fractions keep their significant digits. csv, json and ndjson stay
 * exact.
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

/** ISO-8601 duration of a DuckDB INTERVAL (months, days, microseconds; each part signed). */
export function isoDuration(months: number, days: number, micros: bigint): string {
  const neg = months <= 0 && days <= 0 && micros <= 0n && (months < 0 || days < 0 || micros < 0n);
  const m = Math.abs(months), d = Math.abs(days);
  const us = micros < 0n ? -micros : micros;
  // Mixed signs are rare (interval arithmetic); they keep a sign per part.
  const sign = (v: number | bigint) => (!neg && v < 0 ? "-" : "");
  const y = Math.trunc(m / 12), mo = m % 12;
  const h = us / 3_600_000_000n, mi = (us / 60_000_000n) % 60n;
  const sec = Number(us % 60_000_000n) / 1e6;
  const date = (y ? `${sign(months)}${y}Y` : "") + (mo ? `${sign(months)}${mo}M` : "") +
    (d ? `${sign(days)}${d}D` : "");
  const time = (h ? `${sign(micros)}${h}H` : "") + (mi ? `${sign(micros)}${mi}M` : "") +
    (sec ? `${sign(micros)}${sec}S` : "");
  if (!date && !time) return "PT0S";
  return `${neg ? "-" : ""}P${date}${time ? "T" + time : ""}`;
}

/** `P1DT2H30M` → `1d 2h 30m` for people; anything else is returned as it is. */
function humanDuration(iso: string): string {
  const m =
    /^(-?)P(?:(-?\d+)Y)?(?:(-?\d+)M)?(?:(-?\d+)D)?(?:T(?:(-?\d+)H)?(?:(-?\d+)M)?(?:(-?[\d.]+)S)?)?$/
      .exec(iso);
  if (!m) return iso;
  const units = ["y", "mo", "d", "h", "m", "s"];
  const parts = m.slice(2).map((v, i) => (v === undefined ? "" : `${v}${units[i]}`)).filter(
    Boolean,
  );
  return `${m[1]}${parts.join(" ") || "0s"}`;
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
  if (type === "INTERVAL") {
    const iv = raw as { months: number; days: number; micros: bigint };
    return isoDuration(iv.months, iv.days, iv.micros);
  }
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

function text(cell: Cell): string {
  if (cell === null) return "";
  if (typeof cell === "string" || typeof cell === "number" || typeof cell === "boolean") {
    return String(cell);
  }
  return JSON.stringify(cell);
}

/** Groups the integer part in threes from 10,000 up (4-digit values such as years stay bare). */
function withSeparators(digits: string): string {
  const m = /^(-?)(\d+)(.*)$/.exec(digits);
  if (!m || m[2].length < 5) return digits;
  return m[1] + m[2].replace(/\B(?=(\d{3})+$)/g, ",") + m[3];
}

/**
 * A number for people: at most 6 decimals for values of 1 and more (hiding float noise such as
 * 0.30000000000000004), 6 significant digits below 1, so 1e-7 never prints as 0.
 */
export function humanNumber(n: number): string {
  if (!Number.isFinite(n) || n === 0) return String(n);
  if (Number.isInteger(n)) return withSeparators(String(n));
  const s = Math.abs(n) >= 1 ? String(Number(n.toFixed(6))) : String(Number(n.toPrecision(6)));
  return /e/.test(s) ? s : withSeparators(s);
}

/** A byte count for people, in binary units: `512 B`, `3.4 KiB`, `12.50 MiB`, `1.02 GiB`. */
export function humanBytes(bytes: number): string {
  return humanBytesSameUnit(bytes)[0];
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/**
 * Sizes printed on one line, all in the binary unit of the largest: "12 files (830.00 KiB) into
 * 1 file (1.21 MiB)" makes the reader convert; "0.81 MiB … 1.21 MiB" does not.
 */
export function humanBytesSameUnit(...bytes: number[]): string[] {
  const largest = Math.max(0, ...bytes.map(Math.abs));
  let u = 0;
  while (largest / 1024 ** u >= 1024 && u < BYTE_UNITS.length - 1) u++;
  return bytes.map((b) => {
    if (u === 0) return `${b} B`;
    const v = b / 1024 ** u;
    const a = Math.abs(v);
    return `${v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 || a === 0 ? 2 : 3)} ${BYTE_UNITS[u]}`;
  });
}

/**
 * Shows characters a terminal would act on instead of print — C0/C1 controls, DEL, bidi
 * overrides and other invisible format characters — as `\x1b` / `\u202e` escapes.
 */
export function visible(s: string): string {
  return s.replace(
    // deno-lint-ignore no-control-regex -- matching control characters is the point
    /[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g,
    (c) => {
      if (c === "\n") return "\\n";
      if (c === "\t") return "\\t";
      if (c === "\r") return "\\r";
      const code = c.charCodeAt(0);
      return code <= 0xff
        ? `\\x${code.toString(16).padStart(2, "0")}`
        : `\\u${code.toString(16).padStart(4, "0")}`;
    },
  );
}

/** Cuts `s` to `max` characters with a trailing `…` (0: no limit). */
function clip(s: string, max: number): string {
  const chars = [...s];
  return max > 0 && chars.length > max ? chars.slice(0, Math.max(1, max - 1)).join("") + "…" : s;
}

function tableText(cell: Cell, type: string, maxWidth: number): string {
  if (cell === null) return "NULL";
  if (typeof cell === "number") return humanNumber(cell);
  if (type === "INTERVAL" && typeof cell === "string") return humanDuration(cell);
  return clip(visible(text(cell)), maxWidth);
}

/** Limits of the `table` format. */
export interface TableOptions {
  /** Widest cell in characters before it is cut with `…`; 0 shows every cell whole. */
  maxWidth?: number;
  /** Most rows shown (the first and last halves, like DuckDB's `.maxrows`); 0 shows all. */
  maxRows?: number;
}

/** Default limits of the `table` format. */
export const TABLE_DEFAULTS = { maxWidth: 80, maxRows: 40 } as const;

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function objects(t: ResultTable): Record<string, Cell>[] {
  return t.rows.map((r) => Object.fromEntries(t.columns.map((c, i) => [c, r[i]])));
}

/** Renders a result in one of FORMATS (no trailing newline). */
export function formatResult(t: ResultTable, format: Format, opts: TableOptions = {}): string {
  switch (format) {
    case "csv":
      return [t.columns, ...t.rows.map((r) => r.map((c) => text(c)))]
        .map((r) => r.map(csvField).join(",")).join("\n");
    case "json":
      return JSON.stringify(objects(t), null, 2);
    case "ndjson":
      return objects(t).map((o) => JSON.stringify(o)).join("\n");
    case "table":
      return formatTable(t, opts);
  }
}

function formatTable(t: ResultTable, opts: TableOptions): string {
  const maxWidth = opts.maxWidth ?? TABLE_DEFAULTS.maxWidth;
  const maxRows = opts.maxRows ?? TABLE_DEFAULTS.maxRows;
  const cut = maxRows > 0 && t.rows.length > maxRows;
  const head = cut ? Math.ceil(maxRows / 2) : t.rows.length;
  const shown = cut
    ? [...t.rows.slice(0, head), ...t.rows.slice(t.rows.length - (maxRows - head))]
    : t.rows;
  const cells = shown.map((r) => r.map((c, j) => tableText(c, t.types[j] ?? "", maxWidth)));
  const numeric = t.rows.length > 0
    ? t.columns.map((_, j) => t.rows.every((r) => r[j] === null || typeof r[j] === "number"))
    : t.columns.map(() => false);
  const header = t.columns.map((c) => clip(visible(c), maxWidth));
  const len = (s: string) => [...s].length;
  const widths = header.map((c, j) => Math.max(len(c), ...cells.map((r) => len(r[j]))));
  const pad = (v: string, w: number, left: boolean) =>
    left ? " ".repeat(w - len(v)) + v : v + " ".repeat(w - len(v));
  const line = (r: string[]) => r.map((v, j) => pad(v, widths[j], numeric[j])).join("  ").trimEnd();
  const body = cells.map(line);
  if (cut) body.splice(head, 0, widths.map((w) => pad("⋮", Math.min(w, 1), false)).join("  "));
  const n = humanNumber(t.rows.length);
  return [
    line(header),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...body,
    `(${n} row${t.rows.length === 1 ? "" : "s"}${
      cut ? `, ${maxRows} shown: --show-rows 0 shows all` : ""
    })`,
  ].join("\n");
}

/** Parses a --format value. */
export function isFormat(value: string): value is Format {
  return (FORMATS as readonly string[]).includes(value);
}
