/**
 * Query results as an Arrow IPC stream (`deno task query --format arrow`), so pandas, polars,
 * pyarrow and DuckDB read them from a pipe with their types intact — no CSV re-parsing, no
 * guessing whether a column of digits was a number or a time.
 *
 * Types map one to one where Arrow has the type: integers keep their width and sign, BIGINT
 * stays 64-bit (no precision lost to JSON numbers), TIMESTAMP and TIMESTAMP WITH TIME ZONE
 * become microsecond timestamps (the latter tagged UTC), DATE a day date, BLOB binary. DECIMAL
 * becomes float64 (readers seldom want Arrow decimals from a sensor lake); anything else
 * (INTERVAL, lists, structs, HUGEINT) becomes a UTF-8 column holding what the JSON and CSV
 * formats print, so no column is ever dropped.
 *
 * @module
 */
import type { DuckDBResultReader } from "@duckdb/node-api";
import {
  Binary,
  Bool,
  BufferType,
  Data,
  type DataType,
  DateDay,
  Field,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  makeData,
  makeVector,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableToIPC,
  TimestampMicrosecond,
  Uint16,
  Uint32,
  Uint64,
  Uint8,
  Utf8,
  type Vector,
  vectorFromArray,
} from "apache-arrow";
import { type Cell, toResultTable } from "./format.ts";

/** Fixed-width DuckDB types and the Arrow type each becomes. */
const SIMPLE: Record<string, () => DataType> = {
  BOOLEAN: () => new Bool(),
  TINYINT: () => new Int8(),
  SMALLINT: () => new Int16(),
  INTEGER: () => new Int32(),
  UTINYINT: () => new Uint8(),
  USMALLINT: () => new Uint16(),
  UINTEGER: () => new Uint32(),
  FLOAT: () => new Float32(),
  DOUBLE: () => new Float64(),
  VARCHAR: () => new Utf8(),
};

/** A validity bitmap (bit set = value present) and the null count of `present`. */
function validity(present: boolean[]): { nullBitmap: Uint8Array; nullCount: number } {
  const nullBitmap = new Uint8Array(Math.ceil(present.length / 8));
  let nullCount = 0;
  present.forEach((p, i) => {
    if (p) nullBitmap[i >> 3] |= 1 << (i & 7);
    else nullCount++;
  });
  return { nullBitmap, nullCount };
}

/** A fixed-width column from its values buffer and which rows are present. */
function fixed(type: DataType, data: ArrayBufferView, present: boolean[]): Vector {
  const { nullBitmap, nullCount } = validity(present);
  const buffers = { [BufferType.DATA]: data, [BufferType.VALIDITY]: nullBitmap };
  return makeVector(new Data(type, 0, present.length, nullCount, buffers));
}

/** A 64-bit column (integers, timestamps) from bigint values, nulls kept. */
function wide(type: Int64 | Uint64 | TimestampMicrosecond, values: (bigint | null)[]): Vector {
  const data = type instanceof Uint64
    ? new BigUint64Array(values.length)
    : new BigInt64Array(values.length);
  values.forEach((v, i) => (data[i] = v ?? 0n));
  return fixed(type, data, values.map((v) => v !== null));
}

function dateDays(values: unknown[]): Vector {
  const data = new Int32Array(values.length);
  const present = values.map((v, i) => {
    const days = (v as { days?: number } | null)?.days;
    data[i] = days ?? 0;
    return typeof days === "number";
  });
  return fixed(new DateDay(), data, present);
}

/**
 * One column as an Arrow vector. `cells` (the values as the text formats print them) is only
 * computed for the columns that fall back to it, so a typical result is read once.
 */
function column(type: string, raw: unknown[], cells: () => Cell[]): Vector {
  const simple = SIMPLE[type];
  if (simple) return vectorFromArray(raw.map((v) => v ?? null), simple());
  switch (type) {
    case "BIGINT":
      return wide(new Int64(), raw.map((v) => v === null ? null : BigInt(v as bigint)));
    case "UBIGINT":
      return wide(new Uint64(), raw.map((v) => v === null ? null : BigInt(v as bigint)));
    case "TIMESTAMP":
    case "TIMESTAMP WITH TIME ZONE": {
      const micros = raw.map((v) => (v as { micros?: bigint } | null)?.micros ?? null);
      const tz = type === "TIMESTAMP" ? null : "UTC";
      return wide(new TimestampMicrosecond(tz), micros);
    }
    case "DATE":
      return dateDays(raw);
    case "BLOB":
      return vectorFromArray(
        raw.map((v) => (v as { bytes?: Uint8Array } | null)?.bytes ?? null),
        new Binary(),
      );
  }
  if (type.startsWith("DECIMAL")) {
    return vectorFromArray(cells().map((c) => c === null ? null : Number(c)), new Float64());
  }
  // No one-to-one Arrow type: the text the other formats print (JSON for lists and structs).
  const text = cells().map((c) =>
    c === null ? null : typeof c === "object" ? JSON.stringify(c) : String(c)
  );
  return vectorFromArray(text, new Utf8());
}

/** A DuckDB result as an Arrow table (see the module doc for the type mapping). */
export function toArrowTable(result: DuckDBResultReader): Table {
  const names = result.columnNames();
  const types = result.columnTypes().map((t) => String(t));
  const raw = result.getColumns();
  let cells: Cell[][] | undefined;
  const cellsOf = (j: number) => () => (cells ??= toResultTable(result).rows).map((r) => r[j]);
  const fields: Field[] = [];
  const vectors: Vector[] = [];
  names.forEach((name, j) => {
    const v = column(types[j], raw[j], cellsOf(j));
    vectors.push(v);
    fields.push(new Field(name, v.type, true));
  });
  // One record batch from the columns: an object keyed by name would merge repeated names
  // (SELECT 1 AS a, 2 AS a), which DuckDB allows.
  const schema = new Schema(fields);
  const data = makeData({
    type: new Struct(fields),
    length: result.currentRowCount,
    nullCount: 0,
    children: vectors.map((v) => v.data[0]),
  });
  return new Table([new RecordBatch(schema, data)]);
}

/** A DuckDB result as the bytes of one Arrow IPC stream. */
export function toArrowIpc(result: DuckDBResultReader): Uint8Array {
  return tableToIPC(toArrowTable(result), "stream");
}
