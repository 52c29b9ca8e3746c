/**
 * The background servers this project runs from jars (the Kafka broker, S3Proxy): a pid file in
 * the server's state directory, and stopping exactly that process — pids get reused, so a pid
 * counts as ours only while `ps` shows a live process whose command line names both the server
 * and its state directory.
 */
import { setTimeout as sleep } from "node:timers/promises";
/** The pid in `file`, or null when missing or not a pid. */
export async function readPidFile(file: string): Promise<number | null> {
  try {
    const pid = Number((await Deno.readTextFile(file)).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** True when `pid` is alive (not a zombie) and its command line contains every `marks`. */
export async function isProcessOf(pid: number, marks: string[]): Promise<boolean> {
  // `ps` rather than /proc/<pid>/cmdline: Deno only grants /proc/<pid> to --allow-all.
  try {
    const out = await new Deno.Command("ps", {
      args: ["-o", "stat=,args=", "-p", String(pid)],
      stdout: "piped",
      stderr: "null",
    }).output();
    const line = new TextDecoder().decode(out.stdout).trim();
    return out.success && !line.startsWith("Z") && marks.every((m) => line.includes(m));
  } catch {
    return false;
  }
}

/** Signals via kill(1): Deno.kill needs unscoped --allow-run, `kill` keeps the task scoped. */
async function signal(pid: number, sig: "TERM" | "KILL"): Promise<void> {
  await new Deno.Command("kill", { args: [`-${sig}`, String(pid)], stdout: "null", stderr: "null" })
    .output();
}

/**
 * Stops the process whose pid is in `pidFile` if it is still ours (isProcessOf `marks`):
 * `first` (SIGTERM: a clean shutdown), then SIGKILL after `graceMs`. Removes the pid file.
 * Returns the pid stopped, or null when none was running.
 */
export async function stopPidFileProcess(
  pidFile: string,
  marks: string[],
  opts: { graceMs: number; first?: "SIGTERM" | "SIGKILL"; log?: (line: string) => void },
): Promise<number | null> {
  const pid = await readPidFile(pidFile);
  const ours = () => isProcessOf(pid!, marks);
  if (!pid || !await ours()) {
    await Deno.remove(pidFile).catch(() => {});
    return null;
  }
  await signal(pid, opts.first === "SIGKILL" ? "KILL" : "TERM");
  const deadline = Date.now() + opts.graceMs;
  while (Date.now() < deadline && await ours()) await sleep(200);
  if (await ours()) {
    opts.log?.(`pid ${pid} did not stop in time; sending SIGKILL`);
    await signal(pid, "KILL");
    while (await ours()) await sleep(100);
  }
  await Deno.remove(pidFile).catch(() => {});
  return pid;
}
