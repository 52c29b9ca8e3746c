/**
 * Runs the project's tasks as a user would, with the exact permissions deno.json grants them,
 * but as a direct child process (not through `deno task`) so a test can SIGKILL it for real.
 */
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const tasks: Record<string, string> = JSON.parse(
  Deno.readTextFileSync(`${ROOT}/deno.json`),
).tasks;

/** `deno run` arguments of a task (flags and script), from deno.json. */
export function taskArgs(name: string): string[] {
  const line = tasks[name];
  if (!line?.startsWith("deno run ")) {
    throw new Error(`task ${name} is not a deno run task: ${line}`);
  }
  return line.slice("deno run ".length).split(/\s+/).filter(Boolean);
}

export interface TaskResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Spawns a task with extra args; the caller may kill it. */
export function spawnTask(
  name: string,
  args: string[],
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...taskArgs(name), ...args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs a task to completion. */
export async function runTask(
  name: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<TaskResult> {
  const out = await spawnTask(name, args, env).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

export { ROOT };
