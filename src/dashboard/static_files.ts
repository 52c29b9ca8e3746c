/**
 * The page's static files, served from memory by exact path: a fixed whitelist, so no request
 * path ever reaches the file system (no traversal), and everything the page needs — uPlot
 * included — comes from this server, so the dashboard works offline.
 */

/** One file the server may send. */
export interface StaticAsset {
  body: Uint8Array<ArrayBuffer>;
  /** The same bytes gzip-compressed once at start (uPlot: 51 KB → ~22 KB on the wire). */
  gzip: Uint8Array<ArrayBuffer>;
  contentType: string;
  /** Strong validator (content hash), so a reload can revalidate cheaply. */
  etag: string;
}

/** URL path → file under `static/`, with its content type. */
export const STATIC_FILES: Record<string, [string, string]> = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/index.html": ["index.html", "text/html; charset=utf-8"],
  "/app.js": ["app.js", "text/javascript; charset=utf-8"],
  "/style.css": ["style.css", "text/css; charset=utf-8"],
  "/favicon.svg": ["favicon.svg", "image/svg+xml"],
  "/vendor/uPlot.iife.min.js": ["vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"],
  "/vendor/uPlot.min.css": ["vendor/uPlot.min.css", "text/css; charset=utf-8"],
};

/** Where the files live, relative to this module (works from any working directory). */
export const STATIC_DIR = new URL("./static/", import.meta.url);

/** Reads every whitelisted file once; a missing file fails at start, not on a request. */
export async function loadStaticAssets(dir: URL = STATIC_DIR): Promise<Map<string, StaticAsset>> {
  const byFile = new Map<string, StaticAsset>();
  const out = new Map<string, StaticAsset>();
  for (const [urlPath, [file, contentType]] of Object.entries(STATIC_FILES)) {
    let asset = byFile.get(file);
    if (!asset) {
      const body = await Deno.readFile(new URL(file, dir));
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
      const hex = [...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
      const gzip = new Uint8Array(
        await new Response(
          new Blob([body]).stream().pipeThrough(new CompressionStream("gzip")),
        ).arrayBuffer(),
      );
      asset = { body, gzip, contentType, etag: `"${hex}"` };
      byFile.set(file, asset);
    }
    out.set(urlPath, asset);
  }
  return out;
}
