/**
 * The statistics every benchmark figure is reported with: median of the runs, with min and max
 * and the runs themselves, so a reader sees the spread and not only a flattering number.
 *
 * @module
 */

/** One figure over several runs. */
export interface Figure {
  unit: string;
  median: number;
  min: number;
  max: number;
  /** Every run's value, in run order. */
  runs: number[];
}

/** Median/min/max of `runs` (which must not be empty), rounded to `digits` decimals. */
export function figure(runs: number[], unit: string, digits = 2): Figure {
  if (runs.length === 0) throw new RangeError("figure() needs at least one run");
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const r = (x: number) => Number(x.toFixed(digits));
  return { unit, median: r(median), min: r(sorted[0]), max: r(sorted.at(-1)!), runs: runs.map(r) };
}

/**
 * The p-th percentile (0–100) of `values` by the nearest-rank method: a value that was
 * actually observed, never an interpolation between two.
 */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Ratios a[i] / b[i], pair by pair (each pair measured in the same run). */
export function pairRatios(a: number[], b: number[]): number[] {
  if (a.length !== b.length) throw new RangeError(`pairRatios: ${a.length} vs ${b.length} runs`);
  return a.map((x, i) => x / b[i]);
}
