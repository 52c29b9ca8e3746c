/**
 * The read-only scenario: the lakehouse made read-only mid-stream (a read-only bind mount or
 * chattr +i, whichever denies writes to root here), then writable again; consume must wait and
 * carry on with nothing lost or repeated.
 */
import { join } from "node:path";
import { readEnv } from "../config.ts";
import { makeMix, produceMix, tableCounts } from "./mix.ts";
import { checkVersions, expectedOf, latestVersion } from "./verify.ts";
import { chaosConsumeArgs, short, sigkill, start, waitFor } from "./processes.ts";
import {
  closeScenario,
  judge,
  newReport,
  type ScenarioOptions,
  type ScenarioReport,
} from "./report.ts";

// ---------------------------------------------------------------------------------------------
// d. The lakehouse turned read-only mid-stream
// ---------------------------------------------------------------------------------------------

/** How a directory is made read-only even for root (which ignores permission bits). */
export type ReadOnlyMethod = "bind-mount" | "chattr";

function run(cmd: string, args: string[]): { ok: boolean; err: string } {
  try {
    const o = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).outputSync();
    return { ok: o.success, err: new TextDecoder().decode(o.stderr).trim() };
  } catch (err) {
    return { ok: false, err: String(err) };
  }
}

/**
 * Finds a way to deny writes to root here: a read-only bind mount of the directory onto
 * itself (needs CAP_SYS_ADMIN), else the immutable attribute (`chattr +i`, needs
 * CAP_LINUX_IMMUTABLE and ext2/3/4, xfs, btrfs …). Each candidate is proved on a probe
 * directory — a write must really fail — so the caller can skip with the reasons otherwise.
 */
export function detectReadOnlyMethod(
  parent = readEnv("TMPDIR") ?? "/tmp",
): { method: ReadOnlyMethod | null; reasons: string[] } {
  const reasons: string[] = [];
  if (Deno.build.os !== "linux") return { method: null, reasons: ["not Linux"] };
  const probe = Deno.makeTempDirSync({ dir: parent, prefix: "ro-probe-" });
  const writeFails = () => {
    try {
      Deno.writeTextFileSync(join(probe, `w-${crypto.randomUUID()}`), "x");
      return false;
    } catch {
      return true;
    }
  };
  try {
    for (const method of ["bind-mount", "chattr"] as const) {
      const on = makeReadOnly(probe, method);
      if (!on.ok) {
        reasons.push(`${method}: ${on.err || "failed"}`);
        continue;
      }
      const denied = writeFails();
      const off = makeWritable(probe, method);
      if (denied && off.ok && !writeFails()) return { method, reasons };
      reasons.push(`${method}: ${denied ? `cannot undo: ${off.err}` : "writes still succeed"}`);
    }
    return { method: null, reasons };
  } finally {
    try {
      Deno.removeSync(probe, { recursive: true });
    } catch { /* a probe we could not make writable again stays; harmless and empty */ }
  }
}

/** Denies writes under `dir` (see detectReadOnlyMethod). */
export function makeReadOnly(dir: string, method: ReadOnlyMethod): { ok: boolean; err: string } {
  if (method === "chattr") return run("chattr", ["-R", "+i", dir]);
  const b = run("mount", ["--bind", dir, dir]);
  if (!b.ok) return b;
  // The remount fails with "busy" while a file is open for writing through the new mount (a
  // Parquet file being written): retry until the writer closes it — still mid-stream.
  let r = run("mount", ["-o", "remount,ro,bind", dir]);
  for (let i = 0; !r.ok && /busy/i.test(r.err) && i < 2000; i++) {
    r = run("mount", ["-o", "remount,ro,bind", dir]);
  }
  if (!r.ok) makeWritable(dir, "bind-mount");
  return r;
}

/** Undoes makeReadOnly. */
export function makeWritable(dir: string, method: ReadOnlyMethod): { ok: boolean; err: string } {
  if (method === "chattr") return run("chattr", ["-R", "-i", dir]);
  // A writer may still hold a file open through the mount for a moment: retry, then detach.
  let u = run("umount", [dir]);
  for (let i = 0; !u.ok && /busy/i.test(u.err) && i < 200; i++) u = run("umount", [dir]);
  return u.ok ? u : run("umount", ["-l", dir]);
}

export interface ReadOnlyOptions extends ScenarioOptions {
  brokers: string;
  method: ReadOnlyMethod;
  /** Bronze commits before the lakehouse turns read-only. */
  afterCommits?: number;
}

/**
 * Turns the lakehouse read-only while `consume` is mid-backlog. The consumer must stop on its
 * own with a non-zero exit and an error naming the path; every commit file must be complete
 * and every version readable; once writable again a rerun must finish exactly.
 */
export async function readOnlyScenario(o: ReadOnlyOptions): Promise<ScenarioReport> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const report = newReport(`read-only (${o.method})`, o.messages);
  const topic = `chaos-ro-${short()}`;
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-chaos-ro-" });
  const bronze = join(lakehouse, "bronze");
  const mix = makeMix(o.messages, 60);
  await produceMix([o.brokers], topic, mix, 3);
  const group = `g-${topic}`;
  let readOnly = false;
  try {
    const consumer = start("consume", [
      ...chaosConsumeArgs(o.brokers, topic, lakehouse, group),
      "--max-rows",
      String(o.maxRows),
    ]);
    await waitFor(
      async () => consumer.exited || await latestVersion(bronze) >= 1 + (o.afterCommits ?? 2),
      90_000,
      10,
    );
    const ro = makeReadOnly(lakehouse, o.method);
    if (!ro.ok) throw new Error(`could not make ${lakehouse} read-only: ${ro.err}`);
    readOnly = true;
    const at = await latestVersion(bronze);
    log(`read-only: ${lakehouse} read-only (${o.method}) at bronze v${at}`);
    // It must stop by itself, promptly, rather than retry forever or carry on.
    const stopped = await waitFor(() => consumer.exited, 60_000, 100);
    if (!stopped) {
      report.problems.push("consume kept running for 60 s on a read-only lakehouse");
      await sigkill(consumer);
    }
    const r = await consumer.result;
    report.details.exitCode = r.code;
    const errorLine = r.stderr.split("\n").filter((l) => /error/i.test(l)).at(-1) ?? "";
    report.details.error = errorLine.slice(0, 300);
    if (r.code === 0) report.problems.push("consume exited 0 on a read-only lakehouse");
    if (!r.stderr.includes(lakehouse)) {
      report.problems.push(`the error does not name the path: ${r.stderr.slice(-600)}`);
    }
    const partial = await tableCounts(lakehouse);
    report.details.bronzeWhenStopped = partial.bronze;
    if (partial.bronze >= mix.messages.length) {
      report.problems.push("everything was ingested before the lakehouse turned read-only");
    }
    // While still read-only: no half-written commit, every version readable.
    const v = await checkVersions(lakehouse, { sample: o.versionSample, seed: o.seed });
    report.problems.push(...v.problems.map((p) => `while read-only: ${p}`));
    const w = makeWritable(lakehouse, o.method);
    if (!w.ok) throw new Error(`could not make ${lakehouse} writable again: ${w.err}`);
    readOnly = false;
    const again = start("consume", [
      ...chaosConsumeArgs(o.brokers, topic, lakehouse, group),
      "--until-caught-up",
    ]);
    const r2 = await again.result;
    if (r2.code !== 0) report.problems.push(`resume exited ${r2.code}: ${r2.stderr.slice(-800)}`);
    await judge(report, lakehouse, expectedOf(mix), o);
  } finally {
    if (readOnly) makeWritable(lakehouse, o.method);
    await closeScenario(report, lakehouse, o, t0);
  }
  return report;
}
