import assert from "node:assert/strict";
import { join } from "node:path";
import { ensureIngestTables, removeLakehouseTables } from "./tables.ts";
import { exists } from "../files.ts";

Deno.test("removeLakehouseTables deletes the tables and nothing else in the directory", async () => {
  const lh = await Deno.makeTempDir({ prefix: "reset-" });
  try {
    await ensureIngestTables(lh);
    await Deno.mkdir(join(lh, "gold", "alarms", "_delta_log"), { recursive: true });
    await Deno.writeTextFile(join(lh, "README.md"), "keep me");
    await Deno.mkdir(join(lh, "notes"));
    await removeLakehouseTables(lh);
    for (const gone of ["bronze", "silver", "quarantine", "gold"]) {
      assert.equal(await exists(join(lh, gone)), false, gone);
    }
    assert.equal(await Deno.readTextFile(join(lh, "README.md")), "keep me");
    assert.ok(await exists(join(lh, "notes")));
    await removeLakehouseTables(lh); // nothing left to delete: no error
  } finally {
    await Deno.remove(lh, { recursive: true });
  }
});
