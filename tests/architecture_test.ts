/**
 * The layout docs/architecture.md draws, held by the tree itself: imports only go down the
 * layers, nothing in src/ or scripts/ reaches into tests/, and no module outside tests grows
 * past what a reader takes in at once. A new folder must be given its layer here (and in the
 * doc) before it can import anything.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";

/** Each part of src/ and its layer: a module may import its own part or lower layers only. */
export const LAYERS: Record<string, number> = {
  "env.ts": 0,
  "fault_point.ts": 0,
  "files.ts": 0,
  "local_process.ts": 0,
  "tasks.ts": 0,
  "progress.ts": 0,
  "retry.ts": 0,
  "hash.ts": 0,
  "python_venv.ts": 1,
  storage: 1,
  "config.ts": 2,
  duckdb: 3,
  metrics: 3,
  delta: 4,
  reading: 5,
  kafka: 5,
  pipeline: 6,
  query: 7,
  gold: 8,
  notify: 9,
  dashboard: 9,
  simulator: 10,
  chaos: 11,
  "demo.ts": 11,
};

/** Largest module outside tests, in lines. */
const MAX_LINES = 600;

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) yield* tsFiles(p);
    else if (e.name.endsWith(".ts")) yield p;
  }
}

/** Relative import specifiers of a module (static, re-exports and dynamic). */
function relativeImports(source: string): string[] {
  const re = /(?:from\s+|import\s*\(\s*|import\s+)"(\.{1,2}\/[^"]+)"/g;
  return [...source.matchAll(re)].map((m) => m[1]);
}

/** The part of src/ a path belongs to: its first folder, or the file at the root. */
function partOf(path: string): string {
  return relative("src", path).split("/")[0];
}

Deno.test("architecture: src/ imports only go down the layers", async () => {
  const wrong: string[] = [];
  for await (const file of tsFiles("src")) {
    if (file.endsWith("_test.ts") || file.includes("/test_fixtures/")) continue;
    const from = partOf(file);
    assert.ok(from in LAYERS, `${from} has no layer in tests/architecture_test.ts`);
    for (const spec of relativeImports(await Deno.readTextFile(file))) {
      const target = join(file, "..", spec);
      if (!target.startsWith("src/")) continue;
      const to = partOf(target);
      if (to === from) continue;
      assert.ok(to in LAYERS, `${to} (imported by ${file}) has no layer`);
      if (LAYERS[to] >= LAYERS[from]) wrong.push(`${file} → ${target}`);
    }
  }
  assert.deepEqual(wrong, [], "imports that go up or sideways");
});

Deno.test("architecture: nothing in src/ or scripts/ imports from tests/", async () => {
  const wrong: string[] = [];
  for (const dir of ["src", "scripts"]) {
    for await (const file of tsFiles(dir)) {
      for (const spec of relativeImports(await Deno.readTextFile(file))) {
        if (join(file, "..", spec).startsWith("tests/")) wrong.push(`${file} → ${spec}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test(`architecture: no module outside tests over ${MAX_LINES} lines`, async () => {
  const long: string[] = [];
  for (const dir of ["src", "scripts", "bench"]) {
    for await (const file of tsFiles(dir)) {
      if (file.endsWith("_test.ts")) continue;
      const lines = (await Deno.readTextFile(file)).split("\n").length - 1;
      if (lines > MAX_LINES) long.push(`${file}: ${lines}`);
    }
  }
  assert.deepEqual(long, []);
});
