/**
 * The one retry policy: exponential backoff with jitter inside a time budget. Callers say which
 * errors are worth another attempt and hear about each retry (to log it); the budget, not a
 * count, bounds the wait, so a message can say truthfully how long was tried.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";

/** How retries are spaced and how long they may go on. */
export interface BackoffPolicy {
  /** First delay, ms; doubled each attempt. */
  baseMs: number;
  /** Largest delay, ms. */
  maxMs: number;
  /** Total time after the first failure during which attempts are made, ms. */
  budgetMs: number;
}

/** One failed attempt that will be retried. */
export interface RetryEvent {
  /** 1 for the first failure. */
  attempt: number;
  error: unknown;
  /** The wait before the next attempt, ms. */
  delayMs: number;
  /** Since the first failure, ms. */
  elapsedMs: number;
  budgetMs: number;
}

/** The delay before attempt `i + 1` (i from 0): min(base · 2^i, max), jittered to ±50 %. */
export function backoffDelay(i: number, policy: Pick<BackoffPolicy, "baseMs" | "maxMs">): number {
  return Math.min(policy.baseMs * 2 ** i, policy.maxMs) * (0.5 + Math.random());
}

/**
 * Runs `attempt` until it returns. An error `retryable` accepts is retried after
 * {@link backoffDelay} while the budget lasts; then (or at once for any other error) it is
 * thrown as it is.
 */
export async function retrying<T>(
  attempt: (i: number) => Promise<T>,
  opts: BackoffPolicy & {
    retryable: (err: unknown) => boolean;
    onRetry?: (e: RetryEvent) => void;
    signal?: AbortSignal;
  },
): Promise<T> {
  let first: number | undefined;
  for (let i = 0;; i++) {
    try {
      return await attempt(i);
    } catch (err) {
      if (!opts.retryable(err)) throw err;
      const now = Date.now();
      first ??= now;
      const elapsedMs = now - first;
      if (elapsedMs >= opts.budgetMs || opts.signal?.aborted) throw err;
      const delayMs = Math.min(backoffDelay(i, opts), opts.budgetMs - elapsedMs);
      opts.onRetry?.({ attempt: i + 1, error: err, delayMs, elapsedMs, budgetMs: opts.budgetMs });
      await sleep(delayMs, undefined, opts.signal ? { signal: opts.signal } : undefined)
        .catch(() => {});
    }
  }
}
