/**
 * Runs the project's tasks as a user would, with the exact permissions deno.json grants them,
 * but as direct child processes (not through `deno task`), so a caller can signal them for real
 * (tests SIGKILL consumers) or wrap them (the benchmark measures a consumer's peak RSS with
 * `/usr/bin/time`). Shared by tests/helpers/tasks.ts and bench/.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The repository root (where deno.json is), with a trailing slash. */
export const ROOT: string = fileURLToPath(new URL("../", import.meta.url));

let tasks: Record<string, string> | undefined;

/** A task line of deno.json: leading `NAME=value` assignments, then `deno run` arguments. */
export interface TaskLine {
  env: Record<string, string>;
  args: string[];
}

/** Environment and `deno run` arguments (flags and script) of a task, from deno.json. */
export function taskLine(name: string): TaskLine {
  tasks ??= JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`)).tasks as Record<
    string,
    string
  >;
  const words = (tasks[name] ?? "").split(/\s+/).filter(Boolean);
  const env: Record<string, string> = {};
  while (/^[A-Z_][A-Z0-9_]*=/.test(words[0] ?? "")) {
    const [key, ...value] = words.shift()!.split("=");
    env[key] = value.join("=");
  }
  if (words[0] !== "deno" || words[1] !== "run") {
    throw new Error(`task ${name} is not a deno run task: ${tasks[name]}`);
  }
  return { env, args: words.slice(2) };
}

/** `deno run` arguments of a task (flags and script), from deno.json. */
export function taskArgs(name: string): string[] {
  return taskLine(name).args;
}

/** Output of a task run to completion. */
export interface TaskResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How to spawn a task; every field is optional. */
export interface SpawnTaskOptions {
  /**
   * The deno executable (default `Deno.execPath()`). A caller whose own `--allow-run` names
   * `deno` passes "deno": a scoped permission does not cover the resolved exec path.
   */
  deno?: string;
  /** A wrapper program and its arguments, e.g. `["/usr/bin/time", "-f", "%M"]`. */
  wrapper?: string[];
  /** Where stdout/stderr go (default "piped"). */
  stdout?: "piped" | "inherit" | "null";
  stderr?: "piped" | "inherit" | "null";
  /**
   * runTask only: SIGKILL the task after this many ms (default 600000) and say so in its
   * stderr, so a task that hangs fails its test instead of the whole suite's time budget.
   */
  timeoutMs?: number;
}

/** Spawns a task with extra args; the caller may kill it. */
export function spawnTask(
  name: string,
  args: string[],
  env: Record<string, string> = {},
  opts: SpawnTaskOptions = {},
): Deno.ChildProcess {
  const deno = opts.deno ?? Deno.execPath();
  const task = taskLine(name);
  const argv = [deno, "run", ...task.args, ...args];
  const [cmd, ...rest] = opts.wrapper?.length ? [...opts.wrapper, ...argv] : argv;
  return new Deno.Command(cmd, {
    args: rest,
    cwd: ROOT,
    env: { ...task.env, ...env },
    stdin: "null",
    stdout: opts.stdout ?? "piped",
    stderr: opts.stderr ?? "piped",
  }).spawn();
}

/** Runs a task to completion. */
export async function runTask(
  name: string,
  args: string[],
  env: Record<string, string> = {},
  opts: SpawnTaskOptions = {},
): Promise<TaskResult> {
  const child = spawnTask(name, args, env, opts);
  const timeoutMs = opts.timeoutMs ?? 600_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  try {
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: timedOut
        ? `${stderr}\n[runTask] deno task ${name} killed after ${timeoutMs / 1000} s (hung?)\n`
        : stderr,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Where and how a `consume` run reads and writes; the flags every scripted run repeats. */
export interface ConsumeRun {
  brokers: string;
  topic: string;
  lakehouse: string;
  group: string;
  untilCaughtUp?: boolean;
  /** Group session timeout, ms (Kafka's floor, 6000, makes restarts after a kill quick). */
  sessionTimeoutMs?: number;
}

/** Arguments of a scripted `consume` run, progress lines off. */
export function consumeArgs(run: ConsumeRun, extra: string[] = []): string[] {
  return [
    "--brokers",
    run.brokers,
    "--topic",
    run.topic,
    "--lakehouse",
    run.lakehouse,
    "--group",
    run.group,
    "--progress-interval",
    "0",
    ...(run.untilCaughtUp ? ["--until-caught-up"] : []),
    ...(run.sessionTimeoutMs ? ["--session-timeout", String(run.sessionTimeoutMs)] : []),
    ...extra,
  ];
}

/** A loopback port nothing listens on right now (for a task's `--metrics-port` in tests, bench). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
