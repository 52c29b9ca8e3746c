import assert from "node:assert/strict";
import { statsJson } from "./stats.ts";
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
