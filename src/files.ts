/** Small file-system helpers shared across modules. */

/** True when `path` exists (file or directory); false when absent or not permitted to look. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
