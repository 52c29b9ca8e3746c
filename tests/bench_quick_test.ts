/**
 * Smoke test of `deno task bench --quick`: it completes and writes latest.json and latest.md
 * with the expected keys. No timed assertion: the figures depend on the machine and its load.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runTask, taskArgs } from "./helpers/tasks.ts";

const placeholder = taskArgs("bench").some((a) => a.endsWith("not_built.ts"));

Deno.test({
  name: "bench --quick: completes and writes latest.json + latest.md with every scenario",
  // Until deno.json's `bench` task points at scripts/bench.ts there is nothing to run.
  ignore: placeholder,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bench-quick-" });
    try {
      const r = await runTask("bench", ["--quick", "--out", dir]);
      assert.equal(r.code, 0, r.stderr.slice(-3000));
      const json = JSON.parse(await Deno.readTextFile(join(dir, "latest.json")));
      assert.equal(json.mode, "quick");
      for (const k of ["cpuModel", "cores", "memoryBytes"]) assert.ok(k in json.machine, k);
      for (const k of ["deno", "kafka", "duckdb"]) assert.ok(json.versions[k], k);
      for (
        const k of [
          "producer",
          "pipeline",
          "freshness",
          "memory",
          "peers",
          "rejects",
          "tableHealth",
          "alarm-latency",
          "soak",
          "gold",
          "delta",
          "decode",
        ]
      ) {
        assert.ok(json.figures[k], `figures.${k}`);
        assert.equal(json.figures[k].error, undefined, `figures.${k}: ${json.figures[k].error}`);
      }
      for (const k of ["median", "min", "max", "runs"]) {
        assert.ok(k in json.figures.producer.after.msgsPerSec, k);
        assert.ok(k in json.figures.pipeline.ratio, k);
        assert.ok(k in json.figures.freshness.p99Ms, k);
      }
      // Both Python peers keep the same readings in silver; the rejects topic lands in quarantine.
      for (const w of ["clean", "fleet"]) {
        const p = json.figures.peers.workloads[w];
        assert.ok("median" in p.consumeOverColumnar.msgsPerSec, `${w}: consume/columnar`);
        assert.ok("median" in p.consumeOverRowwise.cpuSeconds, `${w}: consume/rowwise CPU`);
        assert.equal(p.silverRows.columnar, p.silverRows.rowwise, `${w}: silver rows`);
      }
      const rejects = json.figures.rejects;
      assert.deepEqual(
        [rejects.rows.silver, rejects.rows.quarantine],
        [0, rejects.messages],
        "every reading of the rejects topic is quarantined",
      );
      assert.ok("median" in rejects.rejectsOverClean.msgsPerSec);
      const md = await Deno.readTextFile(join(dir, "latest.md"));
      assert.match(md, /^# Benchmark results \(quick\)/);
      assert.match(md, /\| Scenario \| Figure \| Median \| Min \| Max \| Target \|/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
