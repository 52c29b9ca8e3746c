/**
 * Getting DuckDB's `delta` and `httpfs` extensions onto this machine, once, into a
 * project-local cache.
 *
 * An extension only loads into the exact DuckDB version it was built for, so the cache is laid
 * out as DuckDB's own extension directory (`<dir>/v<version>/<platform>/delta.duckdb_extension`)
 * and both sources below deliver the binary for the running version:
 * 1. `INSTALL delta` from DuckDB's extension site, for machines with internet;
 * 2. the same signed binary from PyPI (`duckdb-extension-delta==<version>`), via `pip download`,
 *    for machines that only reach package registries.
 */
import { join, resolve } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { readEnv } from "../config.ts";
import { exists } from "../files.ts";

/** Where extensions are cached; `DUCKDB_EXTENSION_DIR` overrides. */
export function extensionDirectory(): string {
  return resolve(readEnv("DUCKDB_EXTENSION_DIR") ?? ".cache/duckdb_extensions");
}

/** Raised when no source could deliver the extension; the message lists what was tried. */
export class DeltaExtensionUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeltaExtensionUnavailableError";
  }
}

/** DuckDB's version (without the leading v) and platform string, from the engine itself. */
export async function duckdbBuild(): Promise<{ version: string; platform: string }> {
  const db = await DuckDBInstance.create(":memory:");
  const conn = await db.connect();
  try {
    const rows = (await conn.runAndReadAll(
      "SELECT version() AS v, (SELECT platform FROM pragma_platform()) AS p",
    )).getRowObjects();
    return { version: String(rows[0].v).replace(/^v/, ""), platform: String(rows[0].p) };
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

/** Path the extension must have for the running DuckDB. */
export async function deltaExtensionPath(dir = extensionDirectory()): Promise<string> {
  return await extensionPath("delta", dir);
}

/** Path extension `name` must have for the running DuckDB. */
export async function extensionPath(name: Extension, dir = extensionDirectory()): Promise<string> {
  const { version, platform } = await duckdbBuild();
  return join(dir, `v${version}`, platform, `${name}.duckdb_extension`);
}

/** The extensions this project loads: delta for tables, httpfs for an s3:// lakehouse. */
export type Extension = "delta" | "httpfs";

async function tryInstallFromDuckDB(dir: string, name: Extension): Promise<string | null> {
  const db = await DuckDBInstance.create(":memory:", { extension_directory: dir });
  const conn = await db.connect();
  try {
    await conn.run(`INSTALL ${name}`);
    return null;
  } catch (err) {
    return (err as Error).message.split("\n")[0];
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

async function tryInstallFromPyPI(
  name: Extension,
  target: string,
  version: string,
  platform: string,
): Promise<string | null> {
  if (platform !== "linux_amd64") {
    return `the PyPI wheel route is only wired for linux_amd64 (this is ${platform})`;
  }
  // The temp dir sits inside the cache so the task needs no write access beyond it.
  await Deno.mkdir(extensionDirectory(), { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: extensionDirectory(), prefix: ".download-" });
  try {
    const run = async (args: string[]) => {
      const out = await new Deno.Command("python3", { args, stdout: "piped", stderr: "piped" })
        .output();
      if (!out.success) {
        throw new Error(new TextDecoder().decode(out.stderr).trim().split("\n").pop());
      }
    };
    await run([
      "-m",
      "pip",
      "download",
      "--quiet",
      "--no-deps",
      "--only-binary=:all:",
      "-d",
      tmp,
      `duckdb-extension-${name}==${version}`,
    ]);
    const wheel = [...Deno.readDirSync(tmp)].find((e) => e.name.endsWith(".whl"));
    if (!wheel) throw new Error("pip downloaded no wheel");
    await run(["-m", "zipfile", "-e", join(tmp, wheel.name), join(tmp, "x")]);
    const inner = join(
      tmp,
      "x",
      `duckdb_extension_${name}`,
      "extensions",
      `v${version}`,
      `${name}.duckdb_extension`,
    );
    await Deno.mkdir(join(target, ".."), { recursive: true });
    await Deno.copyFile(inner, `${target}.tmp`);
    await Deno.rename(`${target}.tmp`, target);
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/**
 * Makes sure the delta extension for the running DuckDB is in the cache; returns its path.
 * Idempotent and cheap once cached.
 */
export async function ensureDeltaExtension(
  log: (line: string) => void = (l) => console.error(l),
): Promise<string> {
  return await ensureExtension("delta", log);
}

/** Makes sure extension `name` for the running DuckDB is in the cache; returns its path. */
export async function ensureExtension(
  name: Extension,
  log: (line: string) => void = (l) => console.error(l),
): Promise<string> {
  const dir = extensionDirectory();
  const target = await extensionPath(name, dir);
  if (await exists(target)) return target;
  const { version, platform } = await duckdbBuild();
  log(`${name} extension for DuckDB ${version} not cached; trying INSTALL ${name} …`);
  const duckErr = await tryInstallFromDuckDB(dir, name);
  if (duckErr === null && await exists(target)) return target;
  log(`INSTALL ${name} failed (${duckErr}); trying PyPI duckdb-extension-${name}==${version} …`);
  const pipErr = await tryInstallFromPyPI(name, target, version, platform);
  if (pipErr === null) return target;
  throw new DeltaExtensionUnavailableError(
    `could not get DuckDB's ${name} extension v${version} for ${platform}.\n` +
      `  INSTALL ${name}: ${duckErr}\n  pip download duckdb-extension-${name}==${version}: ${pipErr}\n` +
      `Place the file by hand at ${target}.`,
  );
}
