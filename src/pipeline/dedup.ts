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

interface KeyState {
  max: number;
  seen: Set<number>;
  /** Event time below which `seen` has not been swept yet. */
  sweptAt: number;
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
    let state = this.#keys.get(key);
    if (!state) {
      state = { max: timestamp, seen: new Set([timestamp]), sweptAt: timestamp };
      this.#keys.set(key, state);
      return "new";
    }
    if (timestamp <= state.max - this.horizonMs) return "too_late";
    if (state.seen.has(timestamp)) return "duplicate";
    state.seen.add(timestamp);
    if (timestamp > state.max) {
      state.max = timestamp;
      // Sweep once the horizon has moved by a quarter of itself: amortised O(1) per reading.
      if (timestamp - state.sweptAt > this.horizonMs / 4) this.#sweep(state);
    }
    return "new";
  }

  /** Seeds state from readings already committed to silver (on start and on rebalance). */
  seed(deviceId: string, type: string, timestamp: number): void {
    const key = `${deviceId}\u0000${type}`;
    const state = this.#keys.get(key);
    if (!state) {
      this.#keys.set(key, { max: timestamp, seen: new Set([timestamp]), sweptAt: timestamp });
      return;
    }
    state.seen.add(timestamp);
    if (timestamp > state.max) state.max = timestamp;
  }

  clear(): void {
    this.#keys.clear();
  }

  /** Number of (key, timestamp) entries held; for memory reporting. */
  get size(): number {
    let n = 0;
    for (const s of this.#keys.values()) n += s.seen.size;
    return n;
  }

  #sweep(state: KeyState): void {
    const floor = state.max - this.horizonMs;
    for (const t of state.seen) if (t <= floor) state.seen.delete(t);
    state.sweptAt = state.max;
  }
}
