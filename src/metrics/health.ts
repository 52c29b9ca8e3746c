/**
 * Health as an orchestrator sees it: `/healthz` answers 200 with `{"status":"ok",…}` or 503 with
 * `{"status":"unhealthy","reason":…}`. A task's health is a list of named checks, each either
 * fine or a reason; the first failing check gives the reason, and every check's verdict is in the
 * body so an operator sees the whole state at once.
 */

/** One check's verdict: `null` when fine, else why not (one line). */
export type CheckResult = string | null;

/** A named health check, evaluated at every /healthz request (keep it cheap: no I/O). */
export interface HealthCheck {
  name: string;
  check(): CheckResult;
}

export interface HealthReport {
  healthy: boolean;
  body: {
    status: "ok" | "unhealthy";
    reason?: string;
    checks: Record<string, string>;
    /** Free-form facts a task adds (phase, versions, ages). */
    [key: string]: unknown;
  };
}

/** Runs every check; a check that throws counts as failing with its message. */
export function evaluate(
  checks: readonly HealthCheck[],
  details: Record<string, unknown> = {},
): HealthReport {
  const verdicts: Record<string, string> = {};
  let reason: string | undefined;
  for (const c of checks) {
    let r: CheckResult;
    try {
      r = c.check();
    } catch (err) {
      r = `check failed: ${(err as Error)?.message ?? err}`;
    }
    verdicts[c.name] = r ?? "ok";
    if (r !== null && reason === undefined) reason = `${c.name}: ${r}`;
  }
  return reason === undefined
    ? { healthy: true, body: { status: "ok", ...details, checks: verdicts } }
    : { healthy: false, body: { status: "unhealthy", reason, ...details, checks: verdicts } };
}

/** Seconds since a performance.now() instant, rounded to 0.1 s (for health bodies). */
export function secondsSince(at: number, now = performance.now()): number {
  return Math.round((now - at) / 100) / 10;
}
