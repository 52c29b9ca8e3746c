import assert from "node:assert/strict";
import { DedupState } from "./dedup.ts";

const H = 3_600_000;

Deno.test("dedup: same key and timestamp is a duplicate, other keys are not", () => {
  const d = new DedupState(H);
  assert.equal(d.check("s1", "co2", 1000), "new");
  assert.equal(d.check("s1", "co2", 1000), "duplicate");
  assert.equal(d.check("s1", "temperature", 1000), "new");
  assert.equal(d.check("s2", "co2", 1000), "new");
});

Deno.test("dedup: out-of-order within the horizon is new; beyond it the cache says check (silver must)", () => {
  const d = new DedupState(H);
  assert.equal(d.check("s1", "co2", 10 * H), "new");
  assert.equal(d.check("s1", "co2", 10 * H - 60_000), "new");
  assert.equal(d.check("s1", "co2", 10 * H - 60_000), "duplicate");
  assert.equal(d.check("s1", "co2", 9 * H), "check");
});

Deno.test("dedup: memory stays bounded by the horizon", () => {
  const d = new DedupState(60_000);
  for (let t = 0; t < 3_600_000; t += 1000) d.check("s1", "co2", t);
  assert.ok(d.size <= 61 + 15, `held ${d.size} entries`);
});

Deno.test("dedup: seeded state from silver catches replays", () => {
  const d = new DedupState(H);
  d.seed("s1", "co2", 5000);
  assert.equal(d.check("s1", "co2", 5000), "duplicate");
  assert.equal(d.check("s1", "co2", 6000), "new");
});

Deno.test("dedup: below the rebuild floor every key, known or not, needs a silver check", () => {
  const d = new DedupState(H);
  d.clear(100 * H);
  d.seed("s1", "co2", 99 * H); // older than the floor: not silver's whole story, not kept
  assert.equal(d.check("s1", "co2", 99 * H), "check");
  assert.equal(d.check("lagging", "co2", 50 * H), "check");
  assert.equal(d.size, 0);
  assert.equal(d.check("lagging", "co2", 100 * H), "new");
  assert.equal(d.check("lagging", "co2", 100 * H), "duplicate");
  d.clear();
  assert.equal(d.check("lagging", "co2", 50 * H), "new");
});

Deno.test("dedup: agrees with a naive reference on shuffled, late and repeated readings", () => {
  for (const jump of [0, 20 * 86_400_000]) checkAgainstReference(jump);
});

/** Random readings of 5 devices; every 2,000 readings time jumps ahead by `jump` ms. */
function checkAgainstReference(jump: number): void {
  const horizon = 50_000;
  const d = new DedupState(horizon);
  const seen = new Map<string, { max: number; set: Set<number> }>();
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < 20_000; i++) {
    const dev = `d${Math.floor(rand() * 5)}`;
    const t = Math.floor(i / 2000) * jump + Math.floor(i / 5) * 1000 -
      Math.floor(rand() * 8) * 10_000;
    const ref = seen.get(dev) ?? { max: -Infinity, set: new Set<number>() };
    seen.set(dev, ref);
    let expected: string;
    if (ref.max !== -Infinity && t <= ref.max - horizon) expected = "check";
    else if (ref.set.has(t)) expected = "duplicate";
    else {
      expected = "new";
      ref.set.add(t);
      ref.max = Math.max(ref.max, t);
    }
    assert.equal(d.check(dev, "co2", t), expected, `reading ${i} (${dev} @ ${t})`);
  }
}

Deno.test("dedup: long gaps between readings rebase the 32-bit offsets; long horizons still work", () => {
  const day = 86_400_000;
  for (const horizon of [H, 20 * day]) {
    const d = new DedupState(horizon);
    const times = [0, 1000, 13 * day, 13 * day - 500, 30 * day, 30 * day + 1, 61 * day];
    for (const t of times) assert.equal(d.check("s1", "co2", t), "new", `${horizon} @ ${t}`);
    assert.equal(d.check("s1", "co2", 61 * day), "duplicate");
    assert.equal(d.check("s1", "co2", 61 * day - horizon), "check");
    assert.equal(d.check("s1", "co2", 61 * day - horizon + 1), "new");
    assert.equal(d.check("s1", "co2", -5 * day), "check");
  }
});

Deno.test("dedup: a late reading inserted while the buffer is full and half expired", () => {
  const d = new DedupState(10_000);
  for (let t = 0; t < 40_000; t += 1000) d.check("s1", "co2", t);
  for (let t = 30_500; t < 39_000; t += 1000) assert.equal(d.check("s1", "co2", t), "new");
  for (let t = 30_000; t < 39_500; t += 500) assert.equal(d.check("s1", "co2", t), "duplicate");
  assert.equal(d.size, 19);
});
