/**
 * Deduplication of readings on (device_id, type, timestamp) within an event-time horizon.
 *
 * State is per (device, type) key: the newest event time seen and the set of event times within
 * `horizon` of it. Keying by device makes decisions independent of how Kafka partitions
 * interleave (a device's readings all live in one partition, in order), so a replay after a crash
 * takes exactly the same decisions — which exactly-once depends on. A reading older than its
 * key's newest minus the horizon can no longer be checked and is rejected as `too_late`
 * rather than risk a duplicate in silver. Memory is bounded by devices × horizon / interval,
 * not by backlog size.
 */

export type DedupDecision = "new" | "duplicate" | "too_late";

/**
 * Event times of one key, sorted ascending from `head` on. Readings mostly arrive in order, so
 * the common case is an append with no lookup; a late reading costs a binary search (and an
 * insert). 8 bytes per reading instead of a Set's ~40 is what keeps a large site's hour of
 * state small.
 */
interface KeyState {
  times: number[];
  head: number;
}

function newest(state: KeyState): number {
  return state.times[state.times.length - 1];
}

/** Index of `t` in the live part, or -(insertion point) - 1. */
function search(state: KeyState, t: number): number {
  let lo = state.head;
  let hi = state.times.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = state.times[mid];
    if (v === t) return mid;
    if (v < t) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

export class DedupState {
  readonly #keys = new Map<string, KeyState>();
  readonly horizonMs: number;

  constructor(horizonMs: number) {
    this.horizonMs = horizonMs;
  }

  /** Classifies a reading and records it when new. */
  check(deviceId: string, type: string, timestamp: number): DedupDecision {
    const key = `${deviceId}\u0000${type}`;
    const state = this.#keys.get(key);
    if (!state) {
      this.#keys.set(key, { times: [timestamp], head: 0 });
      return "new";
    }
    const max = newest(state);
    if (timestamp > max) {
      this.#append(state, timestamp);
      return "new";
    }
    if (timestamp <= max - this.horizonMs) return "too_late";
    const at = search(state, timestamp);
    if (at >= 0) return "duplicate";
    state.times.splice(-at - 1, 0, timestamp);
    return "new";
  }

  /** Seeds state from readings already committed to silver (on start and on rebalance). */
  seed(deviceId: string, type: string, timestamp: number): void {
    const key = `${deviceId}\u0000${type}`;
    const state = this.#keys.get(key);
    if (!state) this.#keys.set(key, { times: [timestamp], head: 0 });
    else if (timestamp > newest(state)) this.#append(state, timestamp);
    else {
      const at = search(state, timestamp);
      if (at < 0) state.times.splice(-at - 1, 0, timestamp);
    }
  }

  clear(): void {
    this.#keys.clear();
  }

  /** Number of (key, timestamp) entries held; for memory reporting. */
  get size(): number {
    let n = 0;
    for (const s of this.#keys.values()) n += s.times.length - s.head;
    return n;
  }

  #append(state: KeyState, timestamp: number): void {
    state.times.push(timestamp);
    const floor = timestamp - this.horizonMs;
    while (state.times[state.head] <= floor) state.head++;
    // Compact once the dead prefix dominates: amortised O(1) per reading.
    if (state.head > 64 && state.head * 2 > state.times.length) {
      state.times = state.times.slice(state.head);
      state.head = 0;
    }
  }
}
