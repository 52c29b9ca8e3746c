/**
 * `gold --watch` wakes on a new silver version instead of sleeping a whole --interval: it probes
 * the next commit file of silver's `_delta_log` (one HEAD on object storage, one stat on local
 * disk) every `pollMs`. A new version is thus seen within ~100 ms of consume committing it, which
 * is what keeps an alarm's path from reading to webhook within seconds (issue 28); the interval
 * stays the upper bound between refreshes, so a missed probe (storage trouble) costs at most that.
 *
 * Probing the next version is cheaper and more exact than listing the log: a listing on S3 is a
 * paged GET of every commit file name, and it can lag a PUT on some stores, while a HEAD of a
 * known key is read-after-write consistent on S3 and S3-compatible stores.
 */
import { commitExists } from "../delta/log.ts";

/** What ended a wait for the next commit. */
export type TailOutcome = "commit" | "timeout" | "stopped";

export interface TailOptions {
  /** Probe this often (default 100 ms). */
  pollMs?: number;
  /** Give up after this long (the refresh interval: refresh anyway then). */
  timeoutMs: number;
  /** Stops the wait (SIGTERM). */
  signal: AbortSignal;
  /** Told when a probe fails (storage trouble); the wait goes on until the timeout. */
  onError?: (err: unknown) => void;
}

/** Default probe period: a HEAD every 100 ms is ~10 requests/s, negligible on disk or S3. */
export const TAIL_POLL_MS = 100;

/**
 * Waits until commit `version` of the table exists ("commit"), `timeoutMs` passes ("timeout")
 * or the signal aborts ("stopped"). A failing probe is reported once per failure streak and
 * retried at the same pace; it never ends the wait early.
 */
export async function waitForCommit(
  tablePath: string,
  version: number,
  opts: TailOptions,
): Promise<TailOutcome> {
  const pollMs = opts.pollMs ?? TAIL_POLL_MS;
  const deadline = performance.now() + opts.timeoutMs;
  let failing = false;
  while (!opts.signal.aborted) {
    try {
      if (await commitExists(tablePath, version)) return "commit";
      failing = false;
    } catch (err) {
      if (!failing) opts.onError?.(err);
      failing = true;
    }
    const left = deadline - performance.now();
    if (left <= 0) return "timeout";
    if (!await pause(Math.min(pollMs, left), opts.signal)) break;
  }
  return "stopped";
}

/**
 * True when silver already has a version after `version` (one probe; false when the probe
 * fails: the aggregates then simply run, as when nothing is pending).
 */
export async function silverPending(silverPath: string, version: number): Promise<boolean> {
  return await commitExists(silverPath, version + 1).catch(() => false);
}

/** Sleeps `ms`; false when the signal aborted first. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
