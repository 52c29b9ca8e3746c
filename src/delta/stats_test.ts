import assert from "node:assert/strict";
import {
  cellsFromColumnStatistics,
  type ColumnStatistics,
  statsJson,
  timestampTextToMicros,
} from "./stats.ts";
import type { DeltaField } from "./schema.ts";

const F: DeltaField[] = [
  { name: "ts", type: "timestamp", nullable: true },
  { name: "s", type: "string", nullable: true },
  { name: "d", type: "double", nullable: true },
  { name: "l", type: "long", nullable: true },
  { name: "b", type: "boolean", nullable: true },
];

Deno.test("bounds are conservative: ms rounding outward, truncated strings, NaN and 2^53", () => {
  const long = "é".repeat(40);
  const { json } = statsJson(F, 7, [
    "1",
    "-1500",
    "1765792800000001", // -1.5 ms before epoch .. 10:00:00.000001
    "0",
    "a",
    long,
    "2",
    "-inf",
    "nan",
    "0",
    "-5",
    "9007199254740993",
    "0",
    null,
    null,
  ]);
  const s = JSON.parse(json);
  assert.equal(s.numRecords, 7);
  assert.equal(s.minValues.ts, "1969-12-31T23:59:59.998Z");
  assert.equal(s.maxValues.ts, "2025-12-15T10:00:00.001Z");
  assert.equal(s.minValues.s, "a");
  assert.equal(s.maxValues.s, undefined, "a truncated max would be too small");
  assert.equal(s.minValues.d, undefined);
  assert.equal(s.maxValues.d, undefined);
  assert.equal(s.minValues.l, -5);
  assert.equal(s.maxValues.l, undefined, "beyond 2^53 a JSON number would round");
  assert.deepEqual(s.nullCount, { ts: 1, s: 0, d: 2, l: 0, b: 0 });
  const t = JSON.parse(statsJson([F[1]], 1, ["0", long, long]).json);
  assert.equal(t.minValues.s, "é".repeat(32));
});

Deno.test("timestamp text from the Parquet writer → epoch micros, unknown forms dropped", () => {
  assert.equal(timestampTextToMicros("2025-12-15 10:00:00.123456+00"), 1765792800123456n);
  assert.equal(timestampTextToMicros("2025-12-15 10:00:00"), 1765792800000000n);
  assert.equal(timestampTextToMicros("2025-12-15 11:30:00.5+01:30"), 1765792800500000n);
  assert.equal(timestampTextToMicros("1969-12-31 23:59:59.999999+00"), -1n);
  assert.equal(timestampTextToMicros("0001-01-01 00:00:00"), -62135596800000000n);
  assert.equal(timestampTextToMicros("0044-03-15 00:00:00 (BC)"), undefined);
  assert.equal(timestampTextToMicros("infinity"), undefined);
});

Deno.test("writer statistics: NaN drops a double's max, floats keep null counts only", () => {
  const fields: DeltaField[] = [
    { name: "ts", type: "timestamp", nullable: true },
    { name: "d", type: "double", nullable: true },
    { name: "f", type: "float", nullable: true },
    { name: "s", type: "string", nullable: true },
  ];
  const cols = new Map<string, ColumnStatistics>([
    ["ts", { null_count: "0", min: "2025-12-15 10:00:00.0005+00", max: "2025-12-15 10:00:00+00" }],
    ["d", { null_count: "1", min: "-2.5", max: "3.0", has_nan: "true" }],
    ["f", { null_count: "0", min: "0.1", max: "0.1" }],
    ["s", { null_count: "2" }],
  ]);
  const s = JSON.parse(statsJson(fields, 3, cellsFromColumnStatistics(fields, cols)).json);
  assert.deepEqual(s.minValues, { ts: "2025-12-15T10:00:00.000Z", d: -2.5 });
  assert.deepEqual(s.maxValues, { ts: "2025-12-15T10:00:00.000Z" });
  assert.deepEqual(s.nullCount, { ts: 0, d: 1, f: 0, s: 2 });
  assert.throws(
    () => cellsFromColumnStatistics(fields, new Map()),
    /no statistics for column "ts"/,
  );
});
