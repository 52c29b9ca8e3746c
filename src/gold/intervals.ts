/**
 * Event-time intervals of a gold refresh: the whole minutes, hours or days that changed silver files
 * touch, and how SQL and logs name them. All in UTC, half-open, in ms since 1970.
 */
export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

function dayString(ms: number): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

/** A half-open time interval [from, to), in ms. */
export type Interval = [number, number];

/**
 * The whole `unit`s (hours or days, aligned on 1970-01-01 UTC) that the ranges touch, as
 * sorted, merged half-open intervals.
 */
export function touchedUnits(ranges: [number, number][], unit: number): Interval[] {
  const units: Interval[] = ranges
    .map(([lo, hi]): Interval => [
      Math.floor(lo / unit) * unit,
      (Math.floor(hi / unit) + 1) * unit,
    ])
    .sort((a, b) => a[0] - b[0]);
  const merged: Interval[] = [];
  for (const u of units) {
    const last = merged.at(-1);
    if (last && u[0] <= last[1]) last[1] = Math.max(last[1], u[1]);
    else merged.push([...u]);
  }
  return merged;
}

/** UTC days (YYYY-MM-DD) the intervals cover. */
export function daysOf(intervals: Interval[]): Set<string> {
  const days = new Set<string>();
  for (const [from, to] of intervals) {
    for (let d = Math.floor(from / DAY_MS) * DAY_MS; d < to; d += DAY_MS) days.add(dayString(d));
  }
  return days;
}

/** SQL: `column` falls in one of the intervals. */
export function inIntervalsSql(column: string, intervals: Interval[]): string {
  return "(" +
    intervals.map(([from, to]) =>
      `(${column} >= ${tsLiteral(from)} AND ${column} < ${tsLiteral(to)})`
    ).join(" OR ") + ")";
}

/** Human summary of recomputed intervals, for logs and results. */
export function describeIntervals(intervals: Interval[], unit: number): string {
  const n = intervals.reduce((k, [from, to]) => k + (to - from) / unit, 0);
  const first = new Date(intervals[0][0]).toISOString();
  const last = new Date(intervals.at(-1)![1]).toISOString();
  const what = unit === DAY_MS ? "day(s)" : unit === HOUR_MS ? "hour(s)" : "minute(s)";
  return `${n} ${what} in [${first.slice(0, unit === DAY_MS ? 10 : 16)}, ${
    last.slice(0, unit === DAY_MS ? 10 : 16)
  })`;
}

export function tsLiteral(ms: number): string {
  return `'${new Date(ms).toISOString()}'::TIMESTAMPTZ`;
}
