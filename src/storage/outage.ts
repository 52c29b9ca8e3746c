/**
 * What a storage says while its endpoint does not answer: one line at once (which endpoint,
 * why, for how long it will retry), then at most a line a second however many requests are
 * waiting, and one line when it answers again. Without it an S3 outage was silence for the
 * whole retry budget, then a symptom elsewhere (a Kafka rebalance) instead of the cause.
 *
 * @module
 */
import type { RetryEvent } from "../retry.ts";

/** Reports an endpoint's outages through `log` (stderr by default). */
export class OutageLog {
  #since: number | null = null;
  #lastLine = 0;

  constructor(
    readonly endpoint: string,
    readonly log: (line: string) => void = (line) => console.error(line),
  ) {}

  /** A request failed without an answer and will be retried. */
  retrying(request: string, cause: string, e: RetryEvent): void {
    const now = Date.now();
    const next = `next try in ${(e.delayMs / 1000).toFixed(1)} s`;
    if (this.#since === null) {
      this.#since = now - e.elapsedMs;
      this.#lastLine = now;
      this.log(
        `s3: no answer from ${this.endpoint} (${cause}) for ${request}; retrying for up to ` +
          `${e.budgetMs / 1000} s (${next})`,
      );
      return;
    }
    if (now - this.#lastLine < 1000) return;
    this.#lastLine = now;
    this.log(
      `s3: still no answer from ${this.endpoint} after ${seconds(now - this.#since)} ` +
        `(attempt ${e.attempt + 1} of ${request}: ${cause}); ${next}`,
    );
  }

  /** A request got an answer: ends an outage, if one was reported. */
  answered(): void {
    if (this.#since === null) return;
    this.log(`s3: ${this.endpoint} answers again after ${seconds(Date.now() - this.#since)}`);
    this.#since = null;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
