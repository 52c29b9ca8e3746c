/**
 * A one-line progress ticker for long work on a terminal (gold --full, a large refresh): it
 * rewrites one stderr line each second so a quiet minute does not look like a hang. Off when
 * stderr is not a terminal (logs, pipes, tests), where the per-step lines already say enough.
 */

/** Beyond this the newest event is not "fresh" data late by a little but backfilled history. */
const FRESH_LIMIT_S = 60;

/**
 * The progress line's freshness figure for the newest event `ageS` seconds old: `freshness
 * 0.8s` for live data, else its age in a unit a person reads (`newest event 13.2 h ago`,
 * `… 5.0 min ahead of the clock` for simulated time running ahead) — freshness does not apply
 * to a backfill, and "47806717.4s" says nothing.
 */
export function eventAgeText(ageS: number | undefined): string {
  if (ageS === undefined) return "freshness -";
  if (ageS >= 0 && ageS < FRESH_LIMIT_S) return `freshness ${ageS.toFixed(1)}s`;
  const a = Math.abs(ageS);
  const span = a < 3600
    ? `${(a / 60).toFixed(1)} min`
    : a < 2 * 86_400
    ? `${(a / 3600).toFixed(1)} h`
    : `${(a / 86_400).toFixed(1)} d`;
  return ageS >= 0
    ? `newest event ${span} ago`
    : `newest event ${a < FRESH_LIMIT_S ? `${a.toFixed(1)} s` : span} ahead of the clock`;
}

/** A running ticker; `log` prints a line above it, `stop` clears it. */
export interface Ticker {
  log(line: string): void;
  stop(): void;
}

const encoder = new TextEncoder();

function isTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

/** Starts a ticker showing `status()` and the seconds elapsed; a no-op off a terminal. */
export function startTicker(status: () => string, intervalMs = 1000): Ticker {
  if (!isTerminal()) return { log: (line) => console.error(line), stop: () => {} };
  const started = performance.now();
  const draw = () => {
    const s = ((performance.now() - started) / 1000).toFixed(0);
    Deno.stderr.writeSync(encoder.encode(`\r${status()} (${s} s)\x1b[K`));
  };
  const clear = () => Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
  const timer = setInterval(draw, intervalMs);
  draw();
  return {
    log(line) {
      clear();
      console.error(line);
      draw();
    },
    stop() {
      clearInterval(timer);
      clear();
    },
  };
}
