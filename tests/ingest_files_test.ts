/**
 * JSON files → bronze/silver/quarantine through the real `ingest-files` task: exact counts for
 * NDJSON, array and single-object files, reruns that add nothing, a new file that adds only
 * itself, SIGKILL mid-file, and `--watch` picking up a file dropped while it runs.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  bronzeVersion,
  makeMix,
  type Mix,
  type TableCounts,
  tableCounts,
  totalRejects,
} from "../src/chaos/mix.ts";
import { runTask, spawnTask } from "./helpers/tasks.ts";

/** The counts a mix plus `extraValid` clean readings must leave, per table. */
function assertExact(c: TableCounts, mix: Mix, extraValid = 0) {
  const total = mix.messages.length + extraValid;
  assert.equal(c.bronze, total, "bronze holds every record");
  assert.equal(c.bronzeDistinctCoords, total, "bronze holds each (file, position) once");
  assert.equal(c.silver, mix.valid + extraValid, "silver holds each valid reading");
  assert.equal(c.silverDistinctKeys, mix.valid + extraValid, "silver holds each reading once");
  assert.equal(c.quarantine, totalRejects(mix), "quarantine holds each reject");
  assert.deepEqual(c.reasons, mix.rejects);
  assert.equal(c.bronzeDuplicates, mix.duplicates);
  assert.equal(c.bronze, c.silver + c.quarantine + c.bronzeDuplicates);
}

/** `n` clean readings of one device (none of the mix's), `n` seconds apart from `startMs`. */
function cleanReadings(device: string, n: number, startMs: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    timestamp: new Date(startMs + i * 1000).toISOString(),
    device_id: device,
    building: "Z",
    floor: 1,
    type: "humidity",
    value: 40 + (i % 10),
    unit: "%",
  }));
}

const ndjson = (lines: string[]) => lines.join("\n") + "\n";

async function ingest(dir: string, lakehouse: string, extra: string[] = []) {
  const r = await runTask("ingest-files", [
    "--dir",
    dir,
    "--lakehouse",
    lakehouse,
    "--format",
    "json",
    ...extra,
  ]);
  assert.equal(r.code, 0, `ingest-files failed:\n${r.stderr}`);
  return { ...JSON.parse(r.stdout.trim().split("\n").pop()!), stderr: r.stderr };
}

Deno.test("ingest-files: exact counts; a rerun adds nothing; a new file adds only itself", async () => {
  const dir = await Deno.makeTempDir({ prefix: "files-in-" });
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-files-" });
  const mix = makeMix(20_000);
  const lines = mix.messages.map((m) => m.value);
  const start = Date.UTC(2025, 11, 16);
  const array = cleanReadings("file_array", 30, start);
  const single = cleanReadings("file_single", 1, start)[0];
  await Deno.writeTextFile(join(dir, "part1.ndjson"), ndjson(lines.slice(0, 12_000)));
  await Deno.mkdir(join(dir, "sub"));
  await Deno.writeTextFile(join(dir, "sub", "part2.json"), ndjson(lines.slice(12_000)));
  await Deno.writeTextFile(join(dir, "array.json"), JSON.stringify(array, null, 2));
  await Deno.writeTextFile(join(dir, "single.json"), JSON.stringify(single));

  // Run at once: the files are younger than the settle time, so this also shows one-shot mode
  // waiting for them instead of skipping them.
  const first = await ingest(dir, lakehouse);
  assert.equal(first.filesIngested, 4);
  assert.equal(first.records, mix.messages.length + 31);
  assertExact(await tableCounts(lakehouse), mix, 31);
  // The per-file figures add up to what the tables hold, rejects by reason included.
  type Report = { file: string; rows: Record<string, number>; rejected: Record<string, number> };
  const files: Report[] = first.files;
  assert.deepEqual(files.map((f) => f.file).sort(), [
    "array.json",
    "part1.ndjson",
    "single.json",
    "sub/part2.json",
  ]);
  for (const t of ["bronze", "silver", "quarantine"]) {
    assert.equal(files.reduce((n, f) => n + f.rows[t], 0), first.rows[t], t);
  }
  const rejects = files.reduce(
    (n, f) => n + Object.values(f.rejected).reduce((a, b) => a + b, 0),
    0,
  );
  assert.equal(rejects, first.rows.quarantine);
  assert.match(
    first.stderr,
    /ingested part1\.ndjson: 12000 record\(s\) → bronze 12000, silver \d+, quarantine \d+ \(\w+ \d+/,
  );

  const again = await ingest(dir, lakehouse);
  assert.equal(again.filesIngested, 0);
  assert.equal(again.filesSkipped, 4);
  assert.equal(again.rows.bronze + again.rows.silver + again.rows.quarantine, 0);
  assertExact(await tableCounts(lakehouse), mix, 31);
  assert.match(again.stderr, /skipped sub\/part2\.json: already ingested/);

  // For people: a summary on stdout, the per-file lines on stderr.
  const human = await runTask("ingest-files", ["--dir", dir, "--lakehouse", lakehouse]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^files {5}0 ingested, 4 skipped, 0 still changing \(of 4 seen\)\n/);

  const later = cleanReadings("file_later", 100, start).map((r) => JSON.stringify(r));
  await Deno.writeTextFile(join(dir, "later.ndjson"), ndjson(later));
  const third = await ingest(dir, lakehouse);
  assert.equal(third.filesIngested, 1);
  assert.deepEqual(third.rows, { bronze: 100, silver: 100, quarantine: 0 });
  assertExact(await tableCounts(lakehouse), mix, 131);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(lakehouse, { recursive: true });
});

Deno.test("ingest-files: SIGKILL mid-file, then a rerun: still exact", async () => {
  const dir = await Deno.makeTempDir({ prefix: "files-kill-" });
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-files-kill-" });
  const mix = makeMix(120_000, 60);
  await Deno.writeTextFile(join(dir, "big.ndjson"), ndjson(mix.messages.map((m) => m.value)));
  await new Promise((r) => setTimeout(r, 1100)); // settled: the child starts reading at once
  const child = spawnTask("ingest-files", [
    "--dir",
    dir,
    "--lakehouse",
    lakehouse,
    "--max-rows",
    "7000",
  ]);
  const deadline = Date.now() + 60_000;
  while (await bronzeVersion(lakehouse) < 3 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGKILL");
  await child.output();
  const partial = await tableCounts(lakehouse);
  assert.ok(partial.bronze > 0 && partial.bronze < mix.messages.length, "killed mid-file");
  await ingest(dir, lakehouse);
  assertExact(await tableCounts(lakehouse), mix);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(lakehouse, { recursive: true });
});

Deno.test("ingest-files --watch: a file dropped while it runs lands once; SIGTERM exits 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "files-watch-" });
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-files-watch-" });
  const child = spawnTask("ingest-files", [
    "--dir",
    dir,
    "--lakehouse",
    lakehouse,
    "--watch",
    "--interval",
    "0.2",
    "--format",
    "json",
  ]);
  try {
    const mix = makeMix(3_000);
    await new Promise((r) => setTimeout(r, 500));
    await Deno.writeTextFile(join(dir, "drop.ndjson"), ndjson(mix.messages.map((m) => m.value)));
    const deadline = Date.now() + 30_000;
    while (await bronzeVersion(lakehouse) < 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    // A few more scans: the file must not be read again.
    await new Promise((r) => setTimeout(r, 1000));
    child.kill("SIGTERM");
    const out = await child.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const summary = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    assert.equal(summary.filesIngested, 1);
    assert.equal(summary.records, mix.messages.length, "each record read once");
    assertExact(await tableCounts(lakehouse), mix);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(lakehouse, { recursive: true });
  }
});
