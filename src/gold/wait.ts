/**
 * `gold --watch` started before anything was ingested: wait for the lakehouse and its silver
 * table to exist instead of exiting, saying once what it waits for. Services start in any order
 * (systemd, a compose file), so a watcher must not depend on consume having committed first.
 */
import { resolveLakehouse } from "../config.ts";
import { TableNotFoundError } from "../delta/errors.ts";
import { loadSnapshot } from "../delta/snapshot.ts";
import { joinLocation } from "../storage/location.ts";

export interface WaitOptions {
  intervalMs: number;
  log: (line: string) => void;
  /** Stops the wait (SIGTERM): the function then returns null. */
  signal: AbortSignal;
  /** Told what is awaited each time that changes (for /healthz). */
  onWaiting?: (what: string) => void;
}

/** The resolved lakehouse once `<lakehouse>/silver` is a Delta table; null when stopped first. */
export async function waitForSilver(path: string, opts: WaitOptions): Promise<string | null> {
  let said = "";
  while (!opts.signal.aborted) {
    let what: string;
    try {
      const lakehouse = await resolveLakehouse(path);
      const silver = joinLocation(lakehouse, "silver");
      try {
        await loadSnapshot(silver, { tombstones: false });
        if (said) opts.log(`gold: ${silver} exists now; refreshing`);
        return lakehouse;
      } catch (err) {
        if (!(err instanceof TableNotFoundError)) throw err;
        what = `the silver table at ${silver}`;
      }
    } catch (err) {
      if (!/does not exist/.test((err as Error).message)) throw err;
      what = `the lakehouse ${path}`;
    }
    if (what !== said) {
      opts.log(`gold: waiting for ${what} (checking every ${opts.intervalMs / 1000} s)`);
      opts.onWaiting?.(what);
      said = what;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, opts.intervalMs);
      opts.signal.addEventListener("abort", () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
  }
  return null;
}
