import assert from "node:assert/strict";
import { errorText } from "./config.ts";

Deno.test("errorText: one line, without the SQL DuckDB appends", () => {
  const duck = new Error(
    'IO Error: Could not write "s3://b/t/part-0.parquet"\n\nLINE 1: COPY (SELECT * FROM x) TO …\n' +
      "        ^\n(a hint added after it)",
  );
  assert.equal(
    errorText(duck),
    'IO Error: Could not write "s3://b/t/part-0.parquet"\n(a hint added after it)',
  );
  assert.equal(errorText(new Error("plain")), "plain");
  assert.equal(errorText("a string"), "a string");
});
