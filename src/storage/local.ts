/**
 * The lakehouse on a local filesystem: today's behaviour behind the storage seam.
 *
 * putIfAbsent writes a temp file beside the target and hard-links it to the final name: link
 * fails with AlreadyExists when the name is taken, and the name appears atomically with
 * complete content. Durability: the temp file is fdatasynced before the link and its directory
 * after (plus any directories the put created, up to the first that existed), so an OS crash
 * or power loss cannot leave an empty or missing object that a commit names.
 */
import { basename, dirname, join } from "node:path";
import { faultPoint } from "../fault_point.ts";
import type { Body, ObjectInfo, Storage } from "./storage.ts";

/**
 * Files or directories synced at once: most of the gain of concurrency (the journal coalesces
 * them), and a bound on open descriptors and on blocking threads.
 */
const SYNC_CONCURRENCY = 8;

async function syncOne(path: string): Promise<void> {
  // Read-only is enough for fsync, and is the only way to open a directory.
  const file = await Deno.open(path, { read: true });
  try {
    await file.syncData();
  } finally {
    file.close();
  }
}

/** `fdatasync`s every path (files or directories), a bounded number at a time. */
export async function syncPaths(paths: Iterable<string>): Promise<void> {
  const queue = [...new Set(paths)];
  const worker = async () => {
    for (let p = queue.pop(); p !== undefined; p = queue.pop()) await syncOne(p);
  };
  await Promise.all(Array.from({ length: Math.min(SYNC_CONCURRENCY, queue.length) }, worker));
}

/**
 * Makes sure directory `dir` exists. Returns the directories whose entries changed (the new
 * ones and the first existing ancestor): they must be synced for the new names to be durable.
 */
async function ensureDir(dir: string): Promise<string[]> {
  try {
    await Deno.stat(dir);
    return [];
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const changed: string[] = [];
  let d = dir;
  for (;;) {
    changed.push(d);
    const up = dirname(d);
    if (up === d) break;
    try {
      await Deno.stat(up);
      changed.push(up);
      break;
    } catch {
      d = up;
    }
  }
  await Deno.mkdir(dir, { recursive: true });
  return changed;
}

function tempBeside(location: string): string {
  return join(dirname(location), `.tmp-${crypto.randomUUID()}.${basename(location)}`);
}

/** Links synced `file` to `location` unless taken; `created`: dirs ensureDir made for it. */
async function linkIfAbsent(file: string, location: string, created: string[]): Promise<boolean> {
  const dir = dirname(location);
  try {
    await Deno.link(file, location);
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    throw err;
  }
  await syncPaths([dir, ...created]);
  return true;
}

/** See the module doc. */
export class LocalStorage implements Storage {
  readonly kind = "local";

  async putIfAbsent(location: string, body: Body): Promise<boolean> {
    const created = await ensureDir(dirname(location));
    const tmp = tempBeside(location);
    await (typeof body === "string" ? Deno.writeTextFile(tmp, body) : Deno.writeFile(tmp, body));
    try {
      await syncPaths([tmp]);
      const linked = await linkIfAbsent(tmp, location, created);
      // Test-only (fault_point.ts): a `_delta_log` entry published, its writer not yet told.
      if (location.endsWith(".json")) faultPoint("commit-put", "during", location);
      return linked;
    } finally {
      await Deno.remove(tmp).catch(() => {});
    }
  }

  async putFileIfAbsent(location: string, localFile: string): Promise<boolean> {
    const created = await ensureDir(dirname(location));
    await syncPaths([localFile]);
    return await linkIfAbsent(localFile, location, created);
  }

  /** Beside the target: same filesystem, so putFileIfAbsent links instead of copying. */
  async scratchFile(location: string): Promise<string> {
    await ensureDir(dirname(location));
    return tempBeside(location);
  }

  async put(location: string, body: Body): Promise<void> {
    const created = await ensureDir(dirname(location));
    const tmp = tempBeside(location);
    await (typeof body === "string" ? Deno.writeTextFile(tmp, body) : Deno.writeFile(tmp, body));
    try {
      await syncPaths([tmp]);
      await Deno.rename(tmp, location);
      await syncPaths([dirname(location), ...created]);
    } catch (err) {
      await Deno.remove(tmp).catch(() => {});
      throw err;
    }
  }

  async get(location: string): Promise<Uint8Array | undefined> {
    try {
      return await Deno.readFile(location);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
  }

  async head(location: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await Deno.stat(location);
      return { location, size: st.size, mtime: st.mtime?.getTime() ?? 0 };
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
  }

  async list(
    location: string,
    opts: { recursive?: boolean; startAfter?: string; details?: boolean } = {},
  ): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    const walk = async (dir: string) => {
      try {
        for await (const e of Deno.readDir(dir)) {
          // Concatenated, not join()ed: `dir` is normalised, and a log lists 100,000s of names.
          const p = `${dir}/${e.name}`;
          if (opts.startAfter !== undefined && p <= opts.startAfter) continue;
          if (e.isDirectory && opts.recursive) await walk(p);
          else if (e.isFile && !opts.details) out.push({ location: p });
          else if (e.isFile) {
            // Symlinks are not followed, and a file deleted meanwhile is skipped.
            const st = await Deno.lstat(p).catch(() => undefined);
            if (st?.isFile) {
              out.push({ location: p, size: st.size, mtime: st.mtime?.getTime() ?? 0 });
            }
          }
        }
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    };
    await walk(location);
    return out.sort((a, b) => a.location < b.location ? -1 : a.location > b.location ? 1 : 0);
  }

  async listDirectories(location: string): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const e of Deno.readDir(location)) if (e.isDirectory) out.push(e.name);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return out.sort();
  }

  async delete(location: string): Promise<boolean> {
    try {
      await Deno.remove(location);
      return true;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return false;
      throw err;
    }
  }
}
