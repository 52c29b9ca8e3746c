/**
 * Skipping a test the machine cannot run, loudly: a line on stderr when the file loads, and a
 * line in the file `TEST_SKIP_LOG` names (set by `deno task test`, which lists every skipped
 * test and why in its final summary). Under CI=true a skip that names `failInCi` fails instead:
 * CI installs everything, so a missing piece there is a broken pipeline, not a choice.
 */

/** True when the suite runs in CI (CI=true, as .ci/run sets). */
export function inCi(): boolean {
  return /^(1|true|yes)$/i.test(Deno.env.get("CI") ?? "");
}

/**
 * Registers `name` as skipped for `reason` (what is missing and the command that installs it).
 * With `failInCi` under CI it registers a failing test with the same reason instead.
 */
export function skipTest(name: string, reason: string, opts: { failInCi?: boolean } = {}): void {
  if (opts.failInCi && inCi()) {
    Deno.test(name, () => {
      throw new Error(`cannot run under CI=true: ${reason}`);
    });
    return;
  }
  noteSkip(name, reason);
  Deno.test({ name: `${name} (SKIPPED: ${reason})`, ignore: true, fn: () => {} });
}

/** Records a skipped part of a test that still runs (e.g. one reader of several). */
export function noteSkip(name: string, reason: string): void {
  console.error(`\n*** SKIPPED ${name}: ${reason}\n`);
  const log = Deno.env.get("TEST_SKIP_LOG");
  if (log) Deno.writeTextFileSync(log, `${name}: ${reason}\n`, { append: true });
}
