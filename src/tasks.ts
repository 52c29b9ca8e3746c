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

/** `deno run` arguments of a task (flags and script), from deno.json. */
export function taskArgs(name: string): string[] {
  tasks ??= JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`)).tasks as Record<
    string,
    string
  >;
  const line = tasks[name];
  if (!line?.startsWith("deno run ")) {
    throw new Error(`task ${name} is not a deno run task: ${line}`);
  }
  return line.slice("deno run ".length).split(/\s+/).filter(Boolean);
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
}

/** Spawns a task with extra args; the caller may kill it. */
export function spawnTask(
  name: string,
  args: string[],
  env: Record<string, string> = {},
  opts: SpawnTaskOptions = {},
): Deno.ChildProcess {
  const deno = opts.deno ?? Deno.execPath();
  const argv = [deno, "run", ...taskArgs(name), ...args];
  const [cmd, ...rest] = opts.wrapper?.length ? [...opts.wrapper, ...argv] : argv;
  return new Deno.Command(cmd, {
    args: rest,
    cwd: ROOT,
    env,
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
  const out = await spawnTask(name, args, env, opts).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
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
