/**
 * The sensor catalogue of a running ingestion: loaded once at start (a bad file stops the
 * task before anything is ingested) and reloaded while it runs, on SIGHUP or when the file
 * changes, without a restart. A reload that fails (a YAML error, an unknown key…) keeps the
 * catalogue in force and says why; one that succeeds logs what changed.
 *
 * The file's directory is watched rather than the file: editors save by writing a new file and
 * renaming it over the old one, which ends a watch on the old file's inode.
 *
 * @module
 */
import { basename, dirname, resolve } from "node:path";
import { UsageError } from "../config.ts";
import type { SensorCatalogue } from "../reading/catalogue.ts";
import {
  CatalogueError,
  catalogueFile,
  describeChange,
  loadCatalogue,
} from "../reading/catalogue_file.ts";

/** Quiet time after the last file event before reloading: one save is several events. */
export const RELOAD_DEBOUNCE_MS = 250;

/**
 * The catalogue a task starts with (`--sensors` value, see resolveCatalogue) and its file. A
 * refused file is a UsageError (`FILE:LINE: problem`, exit 2).
 */
export async function openCatalogue(
  option: string,
): Promise<{ file: string; catalogue: SensorCatalogue }> {
  const file = await catalogueFile(option);
  try {
    return { file, catalogue: await loadCatalogue(file) };
  } catch (err) {
    if (err instanceof CatalogueError) throw new UsageError(err.message);
    throw err;
  }
}

/** Something whose catalogue can be swapped (the Ingestor). */
export interface CatalogueHolder {
  catalogue: SensorCatalogue;
}

/** A running watch; `reload()` is what SIGHUP and file changes call. */
export interface CatalogueWatch {
  reload(reason: string): Promise<void>;
  close(): void;
}

/**
 * Reloads `file` into `holder` on SIGHUP and on changes of the file, logging each outcome
 * through `log` (one line).
 */
export function watchCatalogue(
  file: string,
  holder: CatalogueHolder,
  log: (line: string) => void,
  opts: { signal?: boolean; debounceMs?: number } = {},
): CatalogueWatch {
  const path = resolve(file);
  let running: Promise<void> = Promise.resolve();
  let closed = false;

  const reloadOnce = async (reason: string) => {
    let next: SensorCatalogue;
    try {
      next = await loadCatalogue(file);
    } catch (err) {
      log(
        `sensor catalogue ${file} not reloaded (${reason}), the previous one stays in force: ${
          err instanceof Error ? err.message : err
        }`,
      );
      return;
    }
    const before = holder.catalogue;
    if (next.fingerprint === before.fingerprint) {
      if (reason === "SIGHUP") log(`sensor catalogue ${file} reloaded (SIGHUP): no change`);
      return;
    }
    holder.catalogue = next;
    const changes = describeChange(before, next);
    log(
      `sensor catalogue ${file} reloaded (${reason}): ${
        changes.length ? changes.join("; ") : "settings changed"
      } — ${next.types.size} types`,
    );
  };
  /** Reloads one at a time, in order. */
  const reload = (reason: string) => {
    running = running.then(() => closed ? undefined : reloadOnce(reason));
    return running;
  };

  const onHup = () => void reload("SIGHUP");
  const useSignal = opts.signal ?? Deno.build.os !== "windows";
  if (useSignal) Deno.addSignalListener("SIGHUP", onHup);

  let watcher: Deno.FsWatcher | null = null;
  try {
    watcher = Deno.watchFs(dirname(path), { recursive: false });
  } catch (err) {
    log(
      `sensor catalogue ${file}: not watching for changes (${
        (err as Error).message
      }); SIGHUP reloads`,
    );
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (watcher) {
    const w = watcher;
    const name = basename(path);
    (async () => {
      try {
        for await (const event of w) {
          if (!event.paths.some((p) => p === path || basename(p) === name)) continue;
          if (event.kind === "access") continue;
          clearTimeout(timer);
          timer = setTimeout(
            () => void reload("file changed"),
            opts.debounceMs ?? RELOAD_DEBOUNCE_MS,
          );
        }
      } catch {
        // closed
      }
    })();
  }

  return {
    reload,
    close() {
      closed = true;
      clearTimeout(timer);
      if (useSignal) Deno.removeSignalListener("SIGHUP", onHup);
      try {
        watcher?.close();
      } catch {
        // already closed
      }
    },
  };
}
