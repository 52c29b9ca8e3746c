/**
 * Environment access that never throws: a task runs with `--allow-env` for its own variables
 * only, so reading any other must mean "unset", not a crash. The bottom of the import graph
 * (storage reads its AWS_* settings here) so that config.ts may build on storage.
 *
 * @module
 */

/** Reads an env var, returning undefined where it is unset or not permitted. */
export function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}
