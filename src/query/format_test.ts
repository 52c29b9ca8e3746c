import assert from "node:assert/strict";
import { formatResult, humanNumber, isoDuration, visible } from "./format.ts";

Deno.test("visible: terminal controls escaped, printable text kept", () => {
  assert.equal(visible("a\x1b[2Jb\x07\x9b\u202e\n\tč😀"), "a\\x1b[2Jb\\x07\\x9b\\u202e\\n\\tč😀");
});

Deno.test("humanNumber: separators from 10,000, float noise hidden, small values kept", () => {
  assert.equal(humanNumber(2025), "2025");
  assert.equal(humanNumber(-1234567), "-1,234,567");
  assert.equal(humanNumber(0.1 + 0.2), "0.3");
  assert.equal(humanNumber(12345.6789012), "12,345.678901");
  assert.equal(humanNumber(0.000000123456789), "1.23457e-7");
  assert.equal(humanNumber(0.00012345678), "0.000123457");
});

Deno.test("isoDuration: DuckDB INTERVAL parts as ISO-8601", () => {
  assert.equal(isoDuration(0, 0, 5_400_000_000n), "PT1H30M");
  assert.equal(isoDuration(14, 2, 1_500_000n), "P1Y2M2DT1.5S");
  assert.equal(isoDuration(0, 0, -60_000_000n), "-PT1M");
  assert.equal(isoDuration(0, 0, 0n), "PT0S");
});

Deno.test("table format: header escaped, wide cells cut, NULL shown", () => {
  const out = formatResult(
    { columns: ["x\x1b"], types: ["VARCHAR"], rows: [["y".repeat(20)], [null]] },
    "table",
    { maxWidth: 5 },
  );
  assert.deepEqual(out.split("\n"), ["x\\x1b", "-----", "yyyy…", "NULL", "(2 rows)"]);
});
