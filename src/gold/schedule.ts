/**
 * What a `gold --watch` cycle refreshes before the alarms, and which aggregates may wait
 * (issue 28: alarms within two seconds). The alarm path — alarms, then incidents, whose commit
 * wakes the notifier — runs on every new silver version; the aggregates (energy_hourly,
 * device_health, readings_1m, …) follow it unless a newer silver version is already pending, in
 * which case they wait for a later cycle, each for at most the watch interval. A deferred table
 * loses nothing: every gold table diffs silver from the version its own commit recorded.
 *
 * Two aggregates feed the alarm path, and precede it only when their lag could change a result:
 * - energy_hourly is the energy_baseline rule's baseline: the same hour 1–4 weeks before each
 *   15-minute bucket. Silver rows changed since energy_hourly's version can only be in a
 *   bucket's baseline when they are at least a week older than silver's newest reading (a
 *   backfill); live data never is, so it need not wait for energy_hourly;
 * - device_health gives the incidents their horizons (each device's newest reading). Those are
 *   derived exactly from the previous rows plus the new rows (sql/alarms/_health_horizon.sql),
 *   unless rows were removed or the table is new: then device_health precedes.
 */
import { timeRange } from "../delta/actions.ts";
import type { Snapshot } from "../delta/snapshot.ts";
import type { SilverChange } from "./changes.ts";
import { HOUR_MS } from "./intervals.ts";

/** The energy_baseline rule's shortest baseline offset (sql/alarms/energy_baseline.sql). */
export const WEEK_MS = 7 * 24 * HOUR_MS;

/** The tables every alarm refresh includes, in order (the notifier wakes on incidents). */
export const ALARM_TABLES = ["alarms", "incidents"];

/** Newest reading time in silver (ms) by file stats; -Infinity when unknown. */
export function newestReadingMs(silver: Snapshot): number {
  let newest = -Infinity;
  for (const f of silver.files) newest = Math.max(newest, timeRange(f)?.[1] ?? -Infinity);
  return newest;
}

/**
 * True when energy_hourly must be refreshed before the alarms: its pending change (silver since
 * its version; null = unknown or never built) holds a row whose hour can be the baseline of a
 * bucket up to silver's newest reading — an hour before the newest one's, minus a week.
 */
export function baselineTouched(change: SilverChange | null, newestMs: number): boolean {
  if (change === null || change.ranges === null) return true;
  if (change.ranges.length === 0) return false;
  const earliest = Math.min(...change.ranges.map((r) => r[0]));
  const newestHour = Math.floor(newestMs / HOUR_MS) * HOUR_MS;
  return earliest < newestHour - WEEK_MS + HOUR_MS;
}

/**
 * True when device_health must be refreshed before the incidents: the horizons cannot be
 * derived from its previous rows plus the new ones (never built, unknown change, rows removed).
 */
export function healthRebuilt(change: SilverChange | null): boolean {
  return change === null || change.ranges === null || change.removedData;
}

/**
 * When each aggregate may wait: the first cycle builds them all; later, a cycle with a newer silver
 * version pending refreshes only one aggregate — the one brought up to date longest ago among
 * those due (not brought up to date for `maxStaleMs`), so none starves — and defers the others,
 * so the next alarm refresh starts at once; an idle cycle (nothing pending) refreshes them all. Under steady load
 * every aggregate is thus at most about `maxStaleMs` plus a few cycles behind.
 */
export class AggregateCadence {
  #upToDate = new Map<string, number>();
  /** Every aggregate asked about so far, in the order first asked. */
  #known = new Set<string>();
  /** This cycle's one aggregate to refresh while a version is pending (null: none is due). */
  #chosen: string | null = null;
  constructor(
    readonly maxStaleMs: number,
    readonly now: () => number = () => performance.now(),
  ) {}

  #since(table: string): number {
    return this.now() - (this.#upToDate.get(table) ?? -Infinity);
  }

  /** A new cycle begins: chooses its aggregate among those due. */
  begin(): void {
    const due = [...this.#known].filter((t) => this.#since(t) >= this.maxStaleMs);
    due.sort((a, b) => this.#since(b) - this.#since(a));
    this.#chosen = due[0] ?? null;
  }

  /** True when `table` should wait for a later cycle (see the class doc). */
  mayDefer(table: string, pending: boolean): boolean {
    if (!this.#known.has(table)) {
      // First asked: built now, whatever is pending, so every gold table exists after the
      // watcher's first cycle (as readers of a fresh lakehouse expect).
      this.#known.add(table);
      return false;
    }
    return pending && table !== this.#chosen;
  }

  /** `table` was brought up to date (refreshed, or found unchanged). */
  upToDate(table: string): void {
    this.#upToDate.set(table, this.now());
  }
}
