/**
 * The chaos scenarios' child processes: `consume` and friends spawned as a user runs them, their
 * output drained from the start, SIGKILLed at chosen moments, and the small waits between.
 */
import { setTimeout as timeout } from "node:timers/promises";
import { consumeArgs, spawnTask, type TaskResult } from "../tasks.ts";
import { type Log } from "./report.ts";

/** Arguments every consume run of a scenario shares. */
export function chaosConsumeArgs(
  brokers: string,
  topic: string,
  lakehouse: string,
  group: string,
): string[] {
  // Scenarios time their kills by the flush count --max-rows gives: no backlog-sized batches.
  return [
    ...consumeArgs({ brokers, topic, lakehouse, group, sessionTimeoutMs: 6000 }),
    "--backlog-rows",
    "0",
  ];
}

/** A spawned task whose output is drained from the start (a full pipe would stall it). */
export interface Running {
  child: Deno.ChildProcess;
  result: Promise<TaskResult & { signal: Deno.Signal | null }>;
  exited: boolean;
}

/** Reads a stream to its end, handing each line to `onLine` as it arrives. */
async function drain(stream: ReadableStream<Uint8Array>, onLine?: Log): Promise<string> {
  let text = "";
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    if (!onLine) continue;
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const l of lines) onLine(l);
  }
  if (onLine && pending) onLine(pending);
  return text;
}

/**
 * Spawns a task and drains its output at once; `echo` receives its stderr lines live (the
 * long form's --verbose), which shows where a stuck process is stuck. `env` adds variables.
 */
export function start(
  task: string,
  args: string[],
  echo?: Log,
  env: Record<string, string> = {},
): Running {
  const child = spawnTask(task, args, env);
  const r: Running = { child, exited: false, result: null! };
  const out = drain(child.stdout);
  const err = drain(child.stderr, echo);
  r.result = Promise.all([child.status, out, err]).then(([s, stdout, stderr]) => {
    r.exited = true;
    return { code: s.code, signal: s.signal, stdout, stderr };
  });
  return r;
}

/** SIGKILLs a running task; true when it was still running (a kill survived, not a no-op). */
export async function sigkill(r: Running): Promise<boolean> {
  if (r.exited) return false;
  try {
    r.child.kill("SIGKILL");
  } catch {
    return false;
  }
  const res = await r.result;
  return res.signal === "SIGKILL";
}

/** Waits `ms` (re-exported for the scenarios). */
export const sleep = (ms: number): Promise<void> => timeout(ms);

/**
 * A port whose next `count - 1` ports are free too (broker, controller, extra listener), so
 * parallel runs of the suites never start two brokers on one port — nor near 9092.
 */
export function freePorts(count = 2): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 9_000) * 4;
    const held: Deno.Listener[] = [];
    try {
      for (let i = 0; i < count; i++) {
        held.push(Deno.listen({ hostname: "127.0.0.1", port: base + i }));
      }
      return base;
    } catch {
      // taken: try another
    } finally {
      for (const l of held) l.close();
    }
  }
  throw new Error("no free port range found");
}

/** Polls `cond` every `everyMs` until true or the deadline; returns whether it became true. */
export async function waitFor(
  cond: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await sleep(everyMs);
  }
  return await cond();
}

/** A short random suffix that keeps topics and groups of one run apart. */
export const short = () => crypto.randomUUID().slice(0, 8);
