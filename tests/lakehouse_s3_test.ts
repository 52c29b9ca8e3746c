/**
 * The lakehouse on `s3://` through the real tasks, against the local S3Proxy: three `consume`
 * processes of one group (each with its own temp directory, no shared local path) end exact
 * with no duplicate (partition, offset); delta-rs reads the same counts and sums; gold and
 * query run there; a wrong credential, a missing bucket and an unreachable endpoint each give
 * one clear error; other URL schemes are refused, and no folder named `s3:` appears any more.
 */
import assert from "node:assert/strict";
import { brokerList, readEnv } from "../src/config.ts";
import { bronzeVersion, makeMix, produceMix, tableCounts, totalRejects } from "../src/chaos/mix.ts";
import { openDuckDB } from "../src/duckdb/engine.ts";
import { enableLocation } from "../src/duckdb/s3.ts";
import { exists } from "../src/files.ts";
import { removeS3Scratch, s3Scratch } from "../src/storage/test_s3.ts";
import { deltalakePython } from "../src/python_venv.ts";
import { consumeArgs, ROOT, runTask, spawnTask } from "./helpers/tasks.ts";
import { noteSkip } from "./helpers/skip.ts";

const BROKERS = readEnv("KAFKA_BROKERS") ?? "127.0.0.1:9092";
const READER = new URL("./tools/read_with_deltalake.py", import.meta.url).pathname;

Deno.test("s3: three consumers of one group, no shared local path: exact, no duplicate offset; delta-rs, gold and query agree", async () => {
  const lakehouse = await s3Scratch("consume");
  const topic = `s3-consume-${crypto.randomUUID().slice(0, 8)}`;
  const mix = makeMix(20_000, 60);
  await produceMix(brokerList(BROKERS), topic, mix, 4);
  const tmps = await Promise.all([0, 1, 2].map(() => Deno.makeTempDir({ prefix: "s3-member-" })));
  try {
    const runs = await Promise.all(tmps.map(async (tmp) => {
      const child = spawnTask(
        "consume",
        consumeArgs(
          { brokers: BROKERS, topic, lakehouse, group: `g-${topic}`, untilCaughtUp: true },
          ["--max-rows", "3000", "--backlog-rows", "0"],
        ),
        { TMPDIR: tmp },
      );
      const out = await child.output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `consume failed:\n${stderr}`);
      return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    }));
    assert.ok(runs.reduce((n, r) => n + r.records, 0) >= mix.messages.length);
    const c = await tableCounts(lakehouse);
    const total = mix.messages.length;
    assert.equal(c.bronze, total, "bronze holds every message");
    assert.equal(c.bronzeDistinctCoords, total, "no duplicate (partition, offset)");
    assert.equal(c.silver, mix.valid);
    assert.equal(c.silverDistinctKeys, mix.valid);
    assert.equal(c.quarantine, totalRejects(mix));
    assert.equal(c.bronze, c.silver + c.quarantine + c.bronzeDuplicates);
    // No member left anything in the working directory.
    assert.equal(await exists(`${ROOT}s3:`), false);

    // delta-rs reads silver with the same per-partition counts and sums as delta_scan.
    const deltalake = await deltalakePython();
    const py = "python" in deltalake
      ? await new Deno.Command(deltalake.python, {
        args: [READER, `${lakehouse}/silver`],
        stdout: "piped",
        stderr: "piped",
      }).output()
      : undefined;
    if (py) {
      assert.ok(py.success, new TextDecoder().decode(py.stderr));
      const view = JSON.parse(new TextDecoder().decode(py.stdout));
      const rows = Object.values(view.partitions as Record<string, { rows: number; sum: number }>);
      assert.equal(rows.reduce((n, p) => n + p.rows, 0), mix.valid);
      const db = await openDuckDB();
      try {
        await enableLocation(db.conn, lakehouse);
        const sum = Number(
          (await db.conn.runAndReadAll(
            `SELECT sum(value) FROM delta_scan('${lakehouse}/silver')`,
          )).getRows()[0][0],
        );
        const pySum = rows.reduce((n, p) => n + p.sum, 0);
        assert.ok(Math.abs(sum - pySum) < 1e-6 * Math.max(1, Math.abs(sum)), `${sum} vs ${pySum}`);
      } finally {
        db.close();
      }
    } else {
      noteSkip(
        "s3: three consumers, the delta-rs reader",
        `no python with deltalake: ${"reason" in deltalake ? deltalake.reason : ""}`,
      );
    }

    const gold = await runTask("gold", ["--lakehouse", lakehouse]);
    assert.equal(gold.code, 0, gold.stderr);
    const q = await runTask("query", [
      "--lakehouse",
      lakehouse,
      "--format",
      "csv",
      "SELECT (SELECT count(*) FROM silver) AS s, (SELECT count(*) > 0 FROM gold_readings_1m) AS g",
    ]);
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, new RegExp(`^s,g\\n${mix.valid},true`, "m"));
  } finally {
    await Promise.all(tmps.map((t) => Deno.remove(t, { recursive: true })));
    await removeS3Scratch(lakehouse);
  }
});

Deno.test("s3: consume SIGKILLed mid-stream twice, then resumed from the txns: exact", async () => {
  const lakehouse = await s3Scratch("kill");
  const topic = `s3-kill-${crypto.randomUUID().slice(0, 8)}`;
  const mix = makeMix(40_000, 60);
  await produceMix(brokerList(BROKERS), topic, mix);
  const run = { brokers: BROKERS, topic, lakehouse, group: `g-${topic}`, sessionTimeoutMs: 6000 };
  try {
    for (let kill = 0; kill < 2; kill++) {
      const before = await bronzeVersion(lakehouse);
      const child = spawnTask(
        "consume",
        consumeArgs(run, ["--max-rows", "3000", "--backlog-rows", "0"]),
      );
      const deadline = Date.now() + 60_000;
      while (await bronzeVersion(lakehouse) < before + 1 + kill && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      child.kill("SIGKILL");
      await child.output();
    }
    assert.ok((await tableCounts(lakehouse)).bronze < mix.messages.length, "killed mid-stream");
    const r = await runTask("consume", consumeArgs({ ...run, untilCaughtUp: true }));
    assert.equal(r.code, 0, r.stderr);
    const c = await tableCounts(lakehouse);
    assert.equal(c.bronze, mix.messages.length);
    assert.equal(c.bronzeDistinctCoords, mix.messages.length, "no duplicate (partition, offset)");
    assert.equal(c.silver, mix.valid);
    assert.equal(c.silverDistinctKeys, mix.valid);
    assert.equal(c.bronze, c.silver + c.quarantine + c.bronzeDuplicates);
  } finally {
    await removeS3Scratch(lakehouse);
  }
});

Deno.test("s3: deno task demo --lakehouse s3://… runs end to end against S3Proxy", async () => {
  const lakehouse = await s3Scratch("demo");
  try {
    const r = await runTask("demo", ["--lakehouse", lakehouse, "--hours", "1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /silver\s+[1-9]\d* rows/);
    assert.match(r.stdout, /gold_alarms\s+\d+ rows/);
    assert.equal(await exists(`${ROOT}s3:`), false);
  } finally {
    await removeS3Scratch(lakehouse);
  }
});

Deno.test("s3: other URL schemes are refused and s3:// never becomes a local folder", async () => {
  for (const bad of ["gs://lake/x", "s3a://lake/x", "file:///tmp/x"]) {
    const r = await runTask("ingest-files", ["--lakehouse", bad]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /unsupported lakehouse location/);
  }
  const lakehouse = await s3Scratch("scheme");
  try {
    const r = await runTask("ingest-files", ["--lakehouse", lakehouse]);
    assert.equal(r.code, 0, r.stderr);
    for (const d of ["s3:", "gs:", "s3a:", "file:"]) {
      assert.equal(await exists(`${ROOT}${d}`), false, `a folder ${d} appeared`);
    }
    const q = await runTask("query", [
      "--lakehouse",
      lakehouse,
      "--format",
      "csv",
      "SELECT count(*) AS n FROM bronze",
    ]);
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, /^n\n[1-9]\d*$/m);
  } finally {
    await removeS3Scratch(lakehouse);
  }
});

Deno.test("s3: a wrong credential, a missing bucket, an unreachable endpoint: one clear error each", async () => {
  const lakehouse = await s3Scratch("errors");
  const cases: [Record<string, string>, string, RegExp][] = [
    [{ AWS_SECRET_ACCESS_KEY: "wrong" }, lakehouse, /S3 refused .*AWS_SECRET_ACCESS_KEY/],
    [{}, "s3://no-such-bucket-anywhere/x", /bucket "no-such-bucket-anywhere" does not exist/],
    [
      { AWS_ENDPOINT_URL: "http://127.0.0.1:1" },
      lakehouse,
      /cannot reach the S3 endpoint http:\/\/127\.0\.0\.1:1/,
    ],
    [{ AWS_ALLOW_HTTP: "false" }, lakehouse, /plain http: set AWS_ALLOW_HTTP=true/],
  ];
  for (const [env, where, message] of cases) {
    const r = await runTask("ingest-files", ["--lakehouse", where], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(
      r.stderr.trim().split("\n").filter((l) => l.startsWith("error")).length,
      1,
      r.stderr,
    );
    if (env.AWS_ENDPOINT_URL) {
      // Said at once, with the endpoint and the budget; the error says how long it tried.
      assert.match(
        r.stderr,
        /^s3: no answer from http:\/\/127\.0\.0\.1:1 \(.+\) for .+; retrying for up to 20 s/m,
      );
      assert.match(r.stderr, /tried for 2\d s\)/);
    }
  }
  // A mistyped prefix is a missing lakehouse, as a missing local directory is.
  const typo = await runTask("query", ["--lakehouse", `${lakehouse}-typo`, "SELECT 1"]);
  assert.equal(typo.code, 1, typo.stderr);
  assert.match(
    typo.stderr,
    /lakehouse s3:\/\/.+-typo does not exist \(no object under that prefix\)/,
  );
  await removeS3Scratch(lakehouse);
});
