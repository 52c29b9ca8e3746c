import assert from "node:assert/strict";
import { UsageError } from "../config.ts";
import { INGEST_OPTIONS, ingestorOptions } from "./cli_options.ts";

/** The options as parsed with every default, `over` replacing some. */
function parsed(over: Partial<Record<keyof typeof INGEST_OPTIONS, string>> = {}) {
  const o = Object.fromEntries(
    Object.entries(INGEST_OPTIONS).map(([k, spec]) => [k, String(spec.default)]),
  ) as Record<keyof typeof INGEST_OPTIONS, string>;
  return ingestorOptions({ ...o, ...over }, "/tmp/lh", "q");
}

Deno.test("--compact-tier-files: default 10, 0 turns it off, 1 and fractions are refused", () => {
  assert.equal(parsed().compaction?.tierFiles, 10);
  assert.equal(parsed({ "compact-tier-files": "0" }).compaction?.tierFiles, 0);
  assert.equal(parsed({ "compact-tier-files": "4" }).compaction?.tierFiles, 4);
  assert.throws(() => parsed({ "compact-tier-files": "1" }), UsageError);
  assert.throws(() => parsed({ "compact-tier-files": "2.5" }), UsageError);
  assert.throws(() => parsed({ "compact-tier-files": "-3" }), UsageError);
});
