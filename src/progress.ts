/**
 * A one-line progress ticker for long work on a terminal (gold --full, a large refresh): it
 * rewrites one stderr line each second so a quiet minute does not look like a hang. Off when
 * stderr is not a terminal (logs, pipes, tests), where the per-step lines already say enough.
 */

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
