/**
 * Seeded pseudo-random numbers for the simulator.
 *
 * mulberry32: 32-bit state, fast, good enough statistically for signal noise and fault
 * scheduling, and — the point — identical output for the same seed on every platform, so the
 * same flags always produce byte-identical messages.
 *
 * @module
 */

/** A seeded generator of floats in [0, 1). */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Next float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform float in [min, max). */
  range(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor((max - min + 1) * this.next());
  }

  /**
   * Triangular noise in [−a, a] (σ ≈ 0.41·a). Bounded on purpose: Gaussian tails would make a
   * clean sensor cross a robust z-score of 4 now and then, which is a false alarm by design.
   */
  tri(a: number): number {
    return (this.next() + this.next() - 1) * a;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A uniformly chosen element. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
}

/**
 * Hashes a seed (number or string) to 32 bits, and derives independent streams from it
 * (`salt`), so that e.g. fault scheduling never shifts the signal noise of the same seed.
 *
 * @example
 * ```ts
 * import { hashSeed } from "./prng.ts";
 * hashSeed(42, "signal") === hashSeed("42", "signal"); // true
 * ```
 */
export function hashSeed(seed: number | string, salt = ""): number {
  const s = `${seed}\u0000${salt}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // final avalanche (murmur3 fmix32)
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
