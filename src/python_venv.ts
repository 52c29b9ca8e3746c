/**
 * Python packages the project uses from outside (delta-rs for the interoperability tests, the
 * benchmark's Python peer) live in venvs under .cache/, made with `python3 -m venv` and pip from
 * a pinned requirements file the first time, so a fresh machine needs only python3, not a
 * system-wide pip install. A venv is rebuilt when its requirements file changes.
 *
 * @module
 */
import { join } from "node:path";
import { ROOT } from "./tasks.ts";

/** A venv ready to use, or why there is none (no python3, no venv module, PyPI unreachable). */
export type VenvResult = { python: string } | { reason: string };

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; stderr: string }> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { ok: out.success, stderr: new TextDecoder().decode(out.stderr) };
}

/**
 * Makes sure the venv at `dir` (relative to the repository root) holds `requirements` (a
 * requirements file, relative to the root). Returns its interpreter, relative to the root as the
 * tasks' `--allow-run` lists name it.
 */
export async function ensureVenv(
  dir: string,
  requirements: string,
  log: (line: string) => void = (l) => console.error(l),
): Promise<VenvResult> {
  const python = `${dir}/bin/python`;
  const installed = join(ROOT, dir, "smarttech-requirements.txt");
  const wanted = await Deno.readTextFile(join(ROOT, requirements));
  if (await Deno.readTextFile(installed).catch(() => null) === wanted) return { python };
  log(`installing into ${dir} (pip: ${wanted.trim().split("\n").join(", ")}) …`);
  try {
    const venv = await run("python3", ["-m", "venv", "--clear", dir]);
    if (!venv.ok) return { reason: `python3 -m venv failed: ${lastLine(venv.stderr)}` };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { reason: "python3 is not installed" };
    throw e;
  }
  const pip = await run(python, [
    "-m",
    "pip",
    "install",
    "-q",
    "--disable-pip-version-check",
    "-r",
    requirements,
  ]);
  if (!pip.ok) return { reason: `pip install failed: ${lastLine(pip.stderr)}` };
  await Deno.writeTextFile(installed, wanted);
  return { python };
}

function lastLine(s: string): string {
  return s.trim().split("\n").at(-1) ?? "";
}

/** The venv with delta-rs (python `deltalake`) that the interoperability tests read with. */
export const DELTALAKE_VENV = ".cache/deltalake-venv";
/** Its pinned requirements. */
export const DELTALAKE_REQUIREMENTS = "tests/tools/requirements.txt";

let deltalake: Promise<VenvResult> | undefined;

/**
 * A python that imports the pinned `deltalake`: DELTALAKE_PYTHON when set (the test task sets
 * it), else the venv under .cache/ (made here the first time), as an absolute path. Once per
 * process.
 */
export function deltalakePython(log?: (line: string) => void): Promise<VenvResult> {
  deltalake ??= (async (): Promise<VenvResult> => {
    const given = Deno.env.get("DELTALAKE_PYTHON");
    if (given) return { python: given };
    const r = await ensureVenv(DELTALAKE_VENV, DELTALAKE_REQUIREMENTS, log);
    return "python" in r ? { python: join(ROOT, r.python) } : r;
  })();
  return deltalake;
}

/** delta-rs's reader (path from the repository root): a table's counts, sums and txns as JSON. */
export const DELTALAKE_READER = "tests/tools/read_with_deltalake.py";

/** What the reader prints: per partition (JSON array of values) its rows and sum of `value`. */
export interface DeltalakeView {
  version: number;
  files: number;
  partitions: Record<string, { rows: number; sum: number }>;
  txns: Record<string, number | null>;
}

/**
 * Reads `table` (a path or `s3://`, with the AWS_* variables of this process) with delta-rs, at
 * `version` or the latest. The answer is taken from stdout even when the interpreter aborts
 * after printing it (deltalake 1.6.6 does at exit under load); no answer gives the reason.
 */
export async function readWithDeltalake(
  table: string,
  opts: { version?: number; appIds?: string[] } = {},
): Promise<DeltalakeView | { reason: string }> {
  const py = await deltalakePython();
  if (!("python" in py)) return py;
  const out = await new Deno.Command(py.python, {
    args: [
      join(ROOT, DELTALAKE_READER),
      table,
      String(opts.version ?? "latest"),
      ...opts.appIds ?? [],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as DeltalakeView;
  } catch {
    return {
      reason: `delta-rs could not read ${table}: ${lastLine(new TextDecoder().decode(out.stderr))}`,
    };
  }
}

/** Rows of a delta-rs view. */
export function deltalakeRows(view: DeltalakeView): number {
  return Object.values(view.partitions).reduce((n, p) => n + p.rows, 0);
}
