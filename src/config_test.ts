import assert from "node:assert/strict";
import { errorText, outputFormat, parseCli, summaryJson, UsageError } from "./config.ts";

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

Deno.test("parseCli: an unknown flag is one usage line pointing at --help", () => {
  const specs = { topic: { type: "string", description: "t" } } as const;
  assert.throws(
    () => parseCli(["--topci", "x"], specs, "Usage: t"),
    (e: unknown) => e instanceof UsageError && e.message === "unknown option --topci (see --help)",
  );
  assert.throws(
    () => parseCli(["--topic"], specs, "Usage: t"),
    (e: unknown) =>
      e instanceof UsageError && !e.message.includes("'") && /--topic/.test(e.message) &&
      !e.message.includes("Options:"),
  );
});

Deno.test("outputFormat: the formats a task prints; --json a deprecated alias of --format json", () => {
  assert.equal(outputFormat("table", ["table", "json"]), "table");
  assert.equal(outputFormat("table", ["table", "json"], true), "json");
  assert.throws(
    () => outputFormat("csv", ["table", "json"]),
    (e: unknown) =>
      e instanceof UsageError && e.message === '--format must be table or json; got "csv"',
  );
});

Deno.test("summaryJson: fractions rounded to the millisecond, integers untouched", () => {
  assert.equal(
    summaryJson({ seconds: 0.8746573360000001, rows: 104162, ratio: 0.98181818, big: 2 ** 53 }),
    `{"seconds":0.875,"rows":104162,"ratio":0.982,"big":${2 ** 53}}`,
  );
});
