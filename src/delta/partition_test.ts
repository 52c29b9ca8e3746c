import assert from "node:assert/strict";
import {
  decodeAddPath,
  encodeAddPath,
  escapePartitionComponent,
  MAX_COMPONENT_BYTES,
  partitionDirectory,
  unescapePartitionComponent,
} from "./partition.ts";

Deno.test("escaping removes separators and control characters and is reversible", () => {
  for (const v of ["a/b", "..", "%", "=", "a\u0000b", "\u0001\u007f", "x:y", "ü 日本", "\\"]) {
    const e = escapePartitionComponent(v);
    const bad = [...e].filter((c) =>
      c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f || "/\\=".includes(c)
    );
    assert.deepEqual(bad, [], `${JSON.stringify(v)} -> ${e}`);
    assert.equal(unescapePartitionComponent(e), v);
  }
  assert.equal(escapePartitionComponent("a/b=c%"), "a%2Fb%3Dc%25");
});

Deno.test("partition directories: null, empty, long values", () => {
  assert.equal(
    partitionDirectory(["b", "t"], { b: null, t: "" }),
    "b=__HIVE_DEFAULT_PARTITION__/t=",
  );
  const long = partitionDirectory(["b"], { b: "z".repeat(10_000) });
  assert.ok(long.length <= MAX_COMPONENT_BYTES && long.startsWith("b=__HASH_"), long);
  assert.notEqual(long, partitionDirectory(["b"], { b: "z".repeat(9_999) }));
});

Deno.test("add.path is RFC 3986 encoded except '/', and decodes back", () => {
  const rel = "b=a%2Fb c/t=ü(x)!/part-1.parquet";
  const enc = encodeAddPath(rel);
  assert.equal(enc, "b%3Da%252Fb%20c/t%3D%C3%BC%28x%29%21/part-1.parquet");
  assert.equal(decodeAddPath(enc), rel);
});
