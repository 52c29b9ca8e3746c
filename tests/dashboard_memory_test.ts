/**
 * The dashboard's memory over many refreshes of a table that keeps moving (the soak's leak,
 * issue 28): each refresh re-pins the views to the new versions, which through delta_scan
 * leaked the delta extension's scan metadata (duckdb-delta#279). The model must read the
 * snapshots' files itself, hold no extension, and keep DuckDB's memory flat.
 */
import assert from "node:assert/strict";
import { DashboardModel } from "../src/dashboard/model.ts";
import { Ingestor } from "../src/pipeline/ingestor.ts";
import { fileRecord } from "../src/pipeline/sources/file.ts";

function flushRecords(flush: number, n: number) {
  const t0 = Date.now() - 50 * 60_000;
  return Array.from({ length: n }, (_, i) => {
    const reading = {
      timestamp: new Date(t0 + (flush * n + i) * 1000).toISOString(),
      device_id: `d${i % 8}`,
      building: `B${i % 3}`,
      floor: 1 + (i % 2),
      type: i % 4 ? "temperature" : "humidity",
      value: 20 + (i % 10) / 10,
      unit: i % 4 ? "C" : "%",
    };
    return fileRecord(`file:f${flush}`, `f${flush}`, i, JSON.stringify(reading));
  });
}

Deno.test("dashboard model: refreshes over a moving table use no delta_scan and keep DuckDB's memory flat", async () => {
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-dash-mem-" });
  const ing = await Ingestor.open({ lakehouse, queryId: "dash-mem" });
  let model: DashboardModel | undefined;
  try {
    const used = async () => {
      const r = await model!.db.conn.runAndReadAll(
        "SELECT sum(memory_usage_bytes)::BIGINT AS b FROM duckdb_memory()",
      );
      return Number(r.getRowObjects()[0].b);
    };
    let early = 0;
    const refreshes = 40;
    for (let k = 0; k < refreshes; k++) {
      await ing.exclusive(async () => {
        ing.add(flushRecords(k, 60));
        await ing.flushNow();
      });
      model ??= await DashboardModel.open(lakehouse);
      await model.refresh(() => [{ building: "B0", range: "hour" }]);
      if (k === 9) early = await used();
    }
    const state = JSON.parse(model!.state.json);
    assert.deepEqual(state.errors, []);
    assert.equal(state.health.tables.find((t: { name: string }) => t.name === "silver").rows, 2400);
    assert.ok(model!.series({ building: "B0", range: "hour" }), "charts computed");
    const conn = model!.db.conn;
    const views = (await conn.runAndReadAll(
      "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal",
    )).getRowObjects();
    assert.ok(views.length >= 3, "bronze, silver and quarantine views");
    for (const v of views) {
      assert.ok(!/delta_scan/i.test(String(v.sql)), `${v.view_name} reads through delta_scan`);
    }
    const delta = (await conn.runAndReadAll(
      "SELECT count(*)::INT AS n FROM duckdb_extensions() WHERE extension_name = 'delta' AND loaded",
    )).getRowObjects();
    assert.equal(delta[0].n, 0, "the delta extension is not loaded");
    // No file cache, no result kept by DuckDB: what it holds does not grow with the refreshes.
    const late = await used();
    assert.ok(late <= early + 4 * 1048576, `DuckDB memory grew from ${early} to ${late} bytes`);
  } finally {
    model?.close();
    await ing.close();
    await Deno.remove(lakehouse, { recursive: true });
  }
});
