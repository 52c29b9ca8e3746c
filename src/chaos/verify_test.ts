/**
 * How chaos judges a run, on counts fabricated by hand: exact counts pass; a lost row, a
 * duplicated one and broken accounting are each reported as what they are.
 */
import assert from "node:assert/strict";
import type { TableCounts } from "./mix.ts";
import { makeMix, totalRejects } from "./mix.ts";
import { exactness, expectedOf } from "./verify.ts";

/** The counts a perfect run of `mix` leaves. */
function perfect(mix: ReturnType<typeof makeMix>): TableCounts {
  const rejects = totalRejects(mix);
  return {
    bronze: mix.messages.length,
    bronzeDistinctCoords: mix.messages.length,
    bronzeDuplicates: mix.duplicates,
    silver: mix.valid,
    silverDistinctKeys: mix.valid,
    quarantine: rejects,
    quarantineDistinctCoords: rejects,
    reasons: { ...mix.rejects },
  };
}

Deno.test("makeMix: the outcome it promises adds up (every message valid, resent or rejected)", () => {
  const mix = makeMix(1000);
  assert.equal(mix.messages.length, 1000 + mix.duplicates);
  assert.equal(mix.valid + totalRejects(mix), 1000);
  // Each fault of the doc comment is present: the mix is not vacuous.
  for (const r of ["malformed_json", "missing_field:value", "out_of_range", "unknown_type"]) {
    assert.ok((mix.rejects[r] ?? 0) > 0, r);
  }
  assert.ok(mix.duplicates > 0);
  // Seeded by construction: the same mix twice.
  assert.deepEqual(makeMix(1000), mix);
});

Deno.test("exactness: a perfect run has no problem", () => {
  const mix = makeMix(500);
  assert.deepEqual(exactness(perfect(mix), expectedOf(mix)), {
    lost: 0,
    duplicates: 0,
    problems: [],
  });
});

Deno.test("exactness: a lost silver row and a duplicated bronze row are told apart", () => {
  const mix = makeMix(500);
  const lost = { ...perfect(mix), silver: mix.valid - 1, silverDistinctKeys: mix.valid - 1 };
  const a = exactness(lost, expectedOf(mix));
  assert.equal(a.lost, 1);
  assert.equal(a.duplicates, 0);
  assert.ok(a.problems.includes(`silver rows: ${mix.valid - 1}, expected ${mix.valid}`));
  assert.ok(a.problems.some((p) => p.startsWith("accounting: bronze")));

  const doubled = { ...perfect(mix), bronze: mix.messages.length + 1 };
  const b = exactness(doubled, expectedOf(mix));
  assert.equal(b.lost, 0);
  assert.equal(b.duplicates, 1);
  assert.ok(
    b.problems.includes(`bronze rows: ${mix.messages.length + 1}, expected ${mix.messages.length}`),
  );
});

Deno.test("exactness: a reject filed under the wrong reason is named per reason", () => {
  const mix = makeMix(500);
  const c = perfect(mix);
  c.reasons = {
    ...c.reasons,
    out_of_range: c.reasons.out_of_range - 1,
    unknown_type: c.reasons.unknown_type + 1,
  };
  const r = exactness(c, expectedOf(mix));
  assert.equal(r.lost, 0);
  assert.deepEqual(r.problems, [
    `quarantine reason out_of_range: ${
      mix.rejects.out_of_range - 1
    }, expected ${mix.rejects.out_of_range}`,
    `quarantine reason unknown_type: ${
      mix.rejects.unknown_type + 1
    }, expected ${mix.rejects.unknown_type}`,
  ]);
});
