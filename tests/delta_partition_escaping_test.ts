/**
 * Untrusted partition values round-trip exactly through partitionValues and delta_scan, and
 * no file is ever created outside the table directory.
 *
 * Finding (documented here and in the layer's report): delta_scan (delta-kernel-rs) reads the
 * partition value "" as NULL, as PROTOCOL.md's partition value serialisation prescribes
 * ("an empty string for any type translates to a null partition value"). The layer keeps ""
 * and null distinct in partitionValues (and in its own snapshot), but Delta readers cannot
 * tell them apart; producers that need the distinction must not use "" as a partition value.
 */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { openDuckDB, sqlString } from "../src/duckdb/engine.ts";
import { appendQuery, createTable, loadSnapshot } from "../src/delta/table.ts";
import { MAX_COMPONENT_BYTES } from "../src/delta/partition.ts";

const VALUES: (string | null)[] = [
  "/",
  "..",
  "../../escape",
  "a/../../b",
  "%",
  "%2F",
  "=",
  "k=v",
  " ",
  " padded ",
  "ünïcødé 日本語 🚀",
  "\u0001\u001f\u007f",
  "tab\there\nnewline",
  "nul\u0000inside",
  "back\\slash",
  "C:",
  "'quote\"",
  "__HIVE_DEFAULT_PARTITION__",
  ".",
  "",
  null,
  "x".repeat(10_000),
  "y".repeat(10_000),
  "é".repeat(150),
];

async function* walkAll(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    yield p;
    if (e.isDirectory) yield* walkAll(p);
  }
}

Deno.test("untrusted partition values round-trip and stay inside the table", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t");
  await createTable(path, {
    schema: {
      fields: [
        { name: "idx", type: "integer", nullable: false },
        { name: "building", type: "string", nullable: true },
        { name: "type", type: "string", nullable: true },
      ],
    },
    partitionColumns: ["building", "type"],
  });
  const db = await openDuckDB();
  try {
    await db.conn.run("CREATE TEMP TABLE src (idx INTEGER, building VARCHAR, type VARCHAR)");
    for (let i = 0; i < VALUES.length; i++) {
      // Bound parameters: values never pass through SQL text (NUL included).
      await db.conn.run("INSERT INTO src VALUES ($1, $2, $3)", [
        i,
        VALUES[i],
        VALUES[(i + 3) % VALUES.length],
      ]);
    }
    await appendQuery(db.conn, path, "SELECT * FROM src");
    const snap = await loadSnapshot(path);
    assert.equal(snap.files.length, VALUES.length);

    // 1. partitionValues hold exactly the inputs ("" and null distinct).
    const got = snap.files.map((f) =>
      JSON.stringify([f.partitionValues.building, f.partitionValues.type])
    )
      .sort();
    const want = VALUES.map((v, i) => JSON.stringify([v, VALUES[(i + 3) % VALUES.length]])).sort();
    assert.deepEqual(got, want);

    // 2. Every file and directory lies under the table root; nothing else appeared in `dir`.
    const root = resolve(path);
    for await (const p of walkAll(dir)) {
      const real = await Deno.realPath(p);
      assert.ok(real === root || real.startsWith(root + "/"), `outside the table: ${real}`);
      const name = p.split("/").at(-1)!;
      assert.ok(new TextEncoder().encode(name).length <= Math.max(MAX_COMPONENT_BYTES, 60), name);
    }
    const top = [];
    for await (const e of Deno.readDir(dir)) top.push(e.name);
    assert.deepEqual(top, ["t"]);
    const dirs = new Set(snap.files.map((f) => decodeURIComponent(f.path).split("/")[0]));
    assert.equal(
      dirs.size,
      VALUES.length - 1,
      "null and the literal __HIVE_DEFAULT_PARTITION__ share a directory (harmless: file names are unique)",
    );

    // 3. delta_scan returns each row with its exact values, except "" which it reads as NULL.
    const rows = (await db.conn.runAndReadAll(
      `SELECT idx, building, type FROM delta_scan(${sqlString(path)}) ORDER BY idx`,
    )).getRows();
    assert.equal(rows.length, VALUES.length);
    for (const [idx, building, type] of rows) {
      const i = Number(idx);
      const expect = (v: string | null) => (v === "" ? null : v);
      assert.deepEqual(building, expect(VALUES[i]), `building of row ${i}`);
      assert.deepEqual(type, expect(VALUES[(i + 3) % VALUES.length]), `type of row ${i}`);
    }
    // Stated explicitly: "" and null are indistinguishable through delta_scan.
    const emptyIdx = VALUES.indexOf("");
    const nullIdx = VALUES.indexOf(null);
    const both = (await db.conn.runAndReadAll(
      `SELECT idx, building IS NULL FROM delta_scan(${
        sqlString(path)
      }) WHERE idx IN (${emptyIdx}, ${nullIdx}) ORDER BY idx`,
    )).getRows().map((r) => r[1]);
    assert.deepEqual(both, [true, true]);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
