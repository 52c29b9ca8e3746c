import assert from "node:assert/strict";
import { join } from "node:path";
import { aheadOfClockWarning, runSimulation } from "./run.ts";
import { EPISODE_KINDS } from "./faults.ts";

const START = Date.UTC(2025, 11, 15, 6);

Deno.test("runSimulation: NDJSON file + truth file, byte-identical across runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sim-run-" });
  try {
    const run = (n: number) =>
      runSimulation({
        sim: {
          seed: 1,
          start: START,
          intervalSeconds: 30,
          durationSeconds: 24 * 3600,
          faults: "chaos",
          topology: { buildings: 3, floors: 1 },
        },
        sink: { kind: "file", path: join(dir, `out${n}.ndjson`) },
        rate: 0,
        truthPath: join(dir, `truth${n}.ndjson`),
      });
    const a = await run(1);
    const b = await run(2);
    const out1 = await Deno.readTextFile(join(dir, "out1.ndjson"));
    const truth1 = await Deno.readTextFile(join(dir, "truth1.ndjson"));
    assert.equal(out1, await Deno.readTextFile(join(dir, "out2.ndjson")));
    assert.equal(truth1, await Deno.readTextFile(join(dir, "truth2.ndjson")));
    assert.equal(out1.split("\n").length - 1, a.sent);
    assert.equal(a.sent, a.simulated.messages);
    assert.equal(a.simulated.valid + a.simulated.duplicates + a.simulated.rejected, a.sent);
    const episodes = truth1.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(episodes.length, a.truth?.episodes);
    assert.equal(
      episodes.length,
      Object.values(a.simulated.episodes).reduce((s, n) => s + n, 0),
    );
    for (const kind of EPISODE_KINDS) assert.ok(episodes.some((e) => e.kind === kind), kind);
    for (const e of episodes) {
      assert.ok(Date.parse(e.start) <= Date.parse(e.end), JSON.stringify(e));
      assert.match(e.start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    assert.deepEqual({
      ...b,
      target: "",
      truth: undefined,
      elapsedSeconds: 0,
      msgsPerSec: 0,
      mbPerSec: 0,
    }, {
      ...a,
      target: "",
      truth: undefined,
      elapsedSeconds: 0,
      msgsPerSec: 0,
      mbPerSec: 0,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runSimulation: rate limits file output and abort stops it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sim-run-" });
  try {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const s = await runSimulation({
      sim: { seed: 2, start: START },
      sink: { kind: "file", path: join(dir, "o.ndjson") },
      rate: 1000,
      signal: ac.signal,
    });
    assert.equal(s.aborted, true);
    assert.ok(s.sent >= 100 && s.sent <= 600, `sent ${s.sent} in ~0.3 s at 1000/s`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("produce CLI: --out writes NDJSON, summary JSON on stdout, bad flags exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "produce-cli-" });
  const script = new URL("../../scripts/produce.ts", import.meta.url).pathname;
  const run = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      // Read: the sensor catalogue (--sensors, default the repository's sensors.yaml).
      args: ["run", `--allow-write=${dir}`, "--allow-read", "--allow-env", script, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  try {
    const out = join(dir, "m.ndjson");
    const r = await run(
      "--out",
      out,
      "--count",
      "100",
      "--seed",
      "3",
      "--start",
      "2025-12-15T10:00:00Z",
    );
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const summary = JSON.parse(new TextDecoder().decode(r.stdout));
    assert.equal(summary.sent, 100);
    assert.equal((await Deno.readTextFile(out)).trim().split("\n").length, 100);
    assert.equal((await run("--count", "x")).code, 2);
    assert.equal((await run("--faults", "bogus")).code, 2);
    assert.equal((await run("--start", "yesterday")).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("produce warns when event time would run more than 5 min ahead of the clock", () => {
  const base = {
    start: undefined,
    speedup: 1,
    rate: 36,
    count: undefined,
    durationSeconds: undefined,
    eventSecondsPerMessage: 1 / 36,
  };
  assert.equal(aheadOfClockWarning(base), null, "real time never runs ahead");
  assert.match(aheadOfClockWarning({ ...base, speedup: 10 }) ?? "", /10x faster.*--start/);
  assert.match(aheadOfClockWarning({ ...base, rate: 0 }) ?? "", /as fast as it can be sent/);
  assert.equal(aheadOfClockWarning({ ...base, speedup: 10, start: 0 }), null, "--start given");
  assert.equal(aheadOfClockWarning({ ...base, rate: 0, count: 3600 }), null, "100 s of events");
  assert.equal(aheadOfClockWarning({ ...base, speedup: 60, durationSeconds: 300 }), null);
});
