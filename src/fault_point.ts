/**
 * Test-only fault points: named moments in the product where a chaos test can have the process
 * die, so a crash lands exactly there instead of wherever chance puts a SIGKILL.
 *
 * Armed by `SMARTTECH_FAULT=crash-<when>:<point>:<n>[,…]`, e.g.
 * `crash-after:silver-commit:3` (the third flush dies after its silver commit, before bronze's)
 * or `crash-during:commit-put:5` (the fifth `_delta_log` entry PUT has been answered by the
 * storage, and the writer dies before it reads the answer). The product never sets it; unset,
 * `faultPoint` is one comparison.
 *
 * When the n-th hit of an armed point comes, the process prints FAULT_MARK to stderr and blocks
 * its thread: no JavaScript runs after that point, no request is answered, no timer fires.
 * The test that armed it sees the line and SIGKILLs the process from outside, a real crash
 * (the tasks have no --allow-run to kill themselves). Nobody killing it within a minute means
 * a broken harness: the process then exits 86 so a test fails instead of hanging.
 *
 * @module
 */
/** The test-only variable (see the module doc). */
export const FAULT_ENV = "SMARTTECH_FAULT";
/** Start of the stderr line a process prints when it reached an armed point and froze. */
export const FAULT_MARK = "FAULT POINT reached:";
/** Exit code of a frozen process that nobody killed. */
export const FAULT_UNKILLED_EXIT = 86;

/** One armed point: `crash-<when>:<point>` on its `n`-th hit. */
export interface FaultSpec {
  when: string;
  point: string;
  n: number;
}

/** Parses the variable's value; throws on a malformed one (a test typo must not pass silently). */
export function parseFaults(value: string): FaultSpec[] {
  return value.split(",").map((s) => s.trim()).filter(Boolean).map((item) => {
    const m = /^crash-([a-z]+):([a-z][a-z-]*):([1-9][0-9]*)$/.exec(item);
    if (!m) {
      throw new Error(
        `${FAULT_ENV}: "${item}" is not crash-<when>:<point>:<n> (e.g. crash-after:silver-commit:3)`,
      );
    }
    return { when: m[1], point: m[2], n: Number(m[3]) };
  });
}

/** The variable, or undefined when unset or not admitted by the task's --allow-env. */
function readFaults(): string | undefined {
  try {
    return Deno.env.get(FAULT_ENV);
  } catch {
    return undefined;
  }
}

const raw = readFaults();
const armed: FaultSpec[] | null = raw ? parseFaults(raw) : null;
const hits = new Map<string, number>();

/**
 * Marks the moment `when` (`after`, `during`, …) of `point`; `at` (e.g. the object being
 * written) goes into the announcement. Unarmed: returns at once. Armed and at its n-th hit:
 * freezes the process until it is killed (see the module doc).
 */
export function faultPoint(point: string, when: string, at?: string): void {
  if (armed === null) return;
  const key = `${when}:${point}`;
  const hit = (hits.get(key) ?? 0) + 1;
  hits.set(key, hit);
  if (!armed.some((f) => f.when === when && f.point === point && f.n === hit)) return;
  const where = at === undefined ? "" : ` at ${at}`;
  console.error(`${FAULT_MARK} crash-${key}:${hit}${where} (pid ${Deno.pid}); waiting for SIGKILL`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  console.error(`fault point crash-${key}:${hit}: nobody killed this process; exiting`);
  Deno.exit(FAULT_UNKILLED_EXIT);
}
