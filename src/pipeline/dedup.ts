/**
 * The in-memory half of deduplication on (device_id, type, timestamp): a cache of what silver
 * holds for each key's recent window, which answers most readings without touching silver.
 *
 * State is per (device, type) key: the newest event time seen and the set of event times within
 * `horizon` of it. The cache is authoritative for a key only from its covered-from time on:
 * the later of `floor` (the time from which the state was rebuilt from silver on start; -∞ for
 * an empty silver) and the key's newest minus the horizon (older times have been let go). For a
 * reading older than that the cache cannot say, and answers `check`: the batch then looks the
 * reading up in silver itself (see writer.ts). So lateness never loses a reading, and the live
 * path — readings within the window — never reads silver. Keying by device makes decisions
 * independent of how Kafka partitions interleave. Memory is bounded by devices × horizon /
 * interval, not by backlog size or history.
 */

export type DedupDecision = "new" | "duplicate" | "check";

/**
 * Event times of one key, ascending, in `buf[head, tail)` as offsets from `base`. Readings
 * mostly arrive in order, so the common case is an append with no lookup; a late reading costs
 * a binary search and an insert. Offsets are 32-bit (a horizon is far shorter than the ±12 days
 * they span) and expired times leave from the head, so a reading costs 4 bytes and a little
 * slack: an hour of 1,000 devices at 1 Hz is ~16 MB, not the ~60 MB a growing array of doubles
 * with a dead prefix came to.
 */
interface KeyState {
  base: number;
  buf: Int32Array | Float64Array;
  head: number;
  tail: number;
}

/** Largest offset kept before rebasing; leaves room below 2^31 for a horizon's worth. */
const MAX_OFFSET = 2 ** 30;

function newest(s: KeyState): number {
  return s.base + s.buf[s.tail - 1];
}

/** Index of offset `off` in the live part, or -(insertion point) - 1. */
function search(s: KeyState, off: number): number {
  let lo = s.head;
  let hi = s.tail - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = s.buf[mid];
    if (v === off) return mid;
    if (v < off) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

/**
 * Makes room for one more entry at the tail: slides the live part down once an eighth of the
 * buffer is expired (amortised O(1) a reading), else grows — straight to the size the key's
 * pace says a horizon needs, so a key reallocates once or twice instead of doubling its way up
 * (each reallocation leaves garbage in the allocator until V8 collects the old array).
 */
function reserve(s: KeyState, horizonMs: number): void {
  if (s.tail < s.buf.length) return;
  const live = s.tail - s.head;
  if (s.head * 8 >= s.buf.length) s.buf.copyWithin(0, s.head, s.tail);
  else {
    const span = s.buf[s.tail - 1] - s.buf[s.head];
    const perHorizon = span > 0 ? Math.ceil(horizonMs / (span / (live - 1)) * 1.15) + 16 : 0;
    const size = Math.max(s.buf.length * 2, Math.min(perHorizon, 1 << 20));
    const grown = new (s.buf.constructor as Int32ArrayConstructor)(size);
    grown.set(s.buf.subarray(s.head, s.tail));
    s.buf = grown;
  }
  s.head = 0;
  s.tail = live;
}

export class DedupState {
  readonly #keys = new Map<string, Map<string, KeyState>>();
  readonly horizonMs: number;
  /**
   * Silver's rows at or after this time (ms) were all seeded; the cache knows nothing of
   * earlier ones, so it answers `check` below it.
   */
  floor = -Infinity;
  /** Horizons beyond what 32-bit offsets span keep absolute times in doubles. */
  readonly #wide: boolean;

  constructor(horizonMs: number) {
    this.horizonMs = horizonMs;
    this.#wide = !(horizonMs < MAX_OFFSET);
  }

  #state(deviceId: string, type: string): KeyState | undefined {
    return this.#keys.get(type)?.get(deviceId);
  }

  #create(deviceId: string, type: string, timestamp: number): void {
    let byDevice = this.#keys.get(type);
    if (!byDevice) this.#keys.set(type, byDevice = new Map());
    const buf = this.#wide ? new Float64Array(16) : new Int32Array(16);
    const base = this.#wide ? 0 : timestamp;
    buf[0] = timestamp - base;
    byDevice.set(deviceId, { base, buf, head: 0, tail: 1 });
  }

  /**
   * Classifies a reading and records it when new. `check`: older than the key's covered-from
   * time, so only silver can tell (nothing is recorded).
   */
  check(deviceId: string, type: string, timestamp: number): DedupDecision {
    if (timestamp < this.floor) return "check";
    const state = this.#state(deviceId, type);
    if (!state) {
      this.#create(deviceId, type, timestamp);
      return "new";
    }
    const max = newest(state);
    if (timestamp > max) {
      this.#append(state, timestamp);
      return "new";
    }
    if (timestamp <= max - this.horizonMs) return "check";
    const at = search(state, timestamp - state.base);
    if (at >= 0) return "duplicate";
    this.#insert(state, -at - 1, timestamp);
    return "new";
  }

  /** Seeds state from readings already committed to silver (on start and on rebalance). */
  seed(deviceId: string, type: string, timestamp: number): void {
    if (timestamp < this.floor) return;
    const state = this.#state(deviceId, type);
    if (!state) this.#create(deviceId, type, timestamp);
    else if (timestamp > newest(state)) this.#append(state, timestamp);
    // An expired time would never be looked up: check() answers `check` first.
    else if (timestamp > newest(state) - this.horizonMs) {
      const at = search(state, timestamp - state.base);
      if (at < 0) this.#insert(state, -at - 1, timestamp);
    }
  }

  /** Forgets everything; the cache then covers times from `floor` on (see the field). */
  clear(floor = -Infinity): void {
    this.#keys.clear();
    this.floor = floor;
  }

  /** Number of (key, timestamp) entries held; for memory reporting. */
  get size(): number {
    let n = 0;
    for (const byDevice of this.#keys.values()) {
      for (const s of byDevice.values()) n += s.tail - s.head;
    }
    return n;
  }

  #append(s: KeyState, timestamp: number): void {
    // Expire first, so a rebase only has to carry times within the horizon.
    const floor = timestamp - this.horizonMs - s.base;
    while (s.head < s.tail && s.buf[s.head] <= floor) s.head++;
    if (!this.#wide && timestamp - s.base > MAX_OFFSET) {
      const shift = timestamp - s.base;
      for (let i = s.head; i < s.tail; i++) s.buf[i] -= shift;
      s.base = timestamp;
    }
    reserve(s, this.horizonMs);
    s.buf[s.tail++] = timestamp - s.base;
  }

  #insert(s: KeyState, at: number, timestamp: number): void {
    const before = s.head;
    reserve(s, this.horizonMs);
    const i = at - before + s.head;
    s.buf.copyWithin(i + 1, i, s.tail);
    s.buf[i] = timestamp - s.base;
    s.tail++;
  }
}
