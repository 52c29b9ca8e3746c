/**
 * The live dashboard: a read-only HTTP server (Deno.serve) with the page, its static files and
 * one Server-Sent Events stream per viewer.
 *
 * One refresh loop serves every viewer: each `intervalMs` the model is refreshed once and the
 * viewers whose data changed get it; with no viewer connected the loop stops, so an unwatched
 * dashboard costs nothing. The browser can only choose among whitelisted values (a building
 * that silver holds, a range name); it never sends SQL. Bound to 127.0.0.1 by default, with a
 * Host-header check against DNS rebinding while bound to loopback, a CSP that allows no inline
 * script, and no CORS headers, so other origins cannot read the data.
 *
 * @example
 * ```ts
 * import { startDashboard } from "./server.ts";
 * const dash = await startDashboard({ lakehouse: "./lakehouse", port: 0 });
 * console.log(dash.url);
 * await dash.close();
 * ```
 */
import {
  DashboardModel,
  isSeriesRange,
  type SeriesKey,
  seriesKeyString,
  type SeriesRange,
} from "./model.ts";
import { loadStaticAssets } from "./static_files.ts";
import { createKafka } from "../kafka/client.ts";
import { cachedLagSource } from "../kafka/lag.ts";

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** Directory holding the Delta tables. */
  lakehouse: string;
  /** Interface to bind (default 127.0.0.1: the dashboard is for this machine unless told). */
  host?: string;
  /** Port (default 8080; 0 picks a free one). */
  port?: number;
  /** Refresh and push period, ms (default 2000). */
  intervalMs?: number;
  /** Viewers served at once at most (default 64); more get 503. */
  maxClients?: number;
  /**
   * Where to read the topic's end offsets for the consumer-lag figure; without it the page
   * says lag needs a broker. Only end offsets are read: the dashboard never consumes.
   */
  kafka?: { brokers: string[]; topic: string; appName: string };
}

/** A running dashboard. */
export interface DashboardHandle {
  /** Base URL, e.g. http://127.0.0.1:8080/ */
  url: string;
  /** Connected SSE viewers. */
  clients(): number;
  /**
   * Refreshes run, queries executed and time spent refreshing since start (shows the sharing
   * and the caching at work).
   */
  stats(): { refreshes: number; queries: number; refreshMs: number };
  /** Stops the loop, ends every stream, closes the server and DuckDB. */
  close(): Promise<void>;
}

/** Sent with every response: no inline script, no framing, no referrer, no MIME sniffing. */
export const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=()",
};

/** Building names as the pipeline partitions them (safe identifiers); checked before lookup. */
const BUILDING_RE = /^[A-Za-z0-9_-]{1,64}$/;
const DEVICE_RE = /^[A-Za-z0-9_.:-]{1,128}$/;
const HEARTBEAT_MS = 15_000;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

interface Client {
  /** Chart selection; the building is "" until silver has one. */
  key: SeriesKey;
  send(event: string, data: string): boolean;
  close(): void;
  stateSeq: number;
  seriesSeq: number;
}

/** Starts the dashboard; resolves once it listens. */
export async function startDashboard(opts: DashboardOptions): Promise<DashboardHandle> {
  const host = opts.host ?? "127.0.0.1";
  const intervalMs = Math.max(100, opts.intervalMs ?? 2000);
  const maxClients = opts.maxClients ?? 64;
  const assets = await loadStaticAssets();
  const model = await DashboardModel.open(
    opts.lakehouse,
    opts.kafka
      ? cachedLagSource(
        createKafka({ brokers: opts.kafka.brokers, clientId: "smarttech-dashboard", retries: 0 })
          .admin(),
        opts.kafka.topic,
        opts.kafka.appName,
      )
      : undefined,
  );
  const clients = new Set<Client>();
  let refreshes = 0;
  let refreshMs = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | null = null;
  let again = false;
  let closed = false;
  /** Serialises every use of the model: one DuckDB connection, one refresh at a time. */
  let lock: Promise<unknown> = Promise.resolve();
  const withModel = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = lock.then(fn);
    lock = run.catch(() => {});
    return run;
  };

  /** Assigns the default building to viewers that have none (or one that vanished). */
  const viewerKeys = (): SeriesKey[] => {
    const keys = new Map<string, SeriesKey>();
    for (const c of clients) {
      if (!model.isBuilding(c.key.building)) {
        const b = model.defaultBuilding();
        if (b) {
          c.key = { building: b, range: c.key.range };
          c.seriesSeq = 0;
        }
      }
      if (model.isBuilding(c.key.building)) keys.set(seriesKeyString(c.key), c.key);
    }
    model.forgetSeries(new Set(keys.keys()));
    return [...keys.values()];
  };

  /** One refresh for everyone, then a push of whatever changed to each viewer. */
  const cycle = async () => {
    if (clients.size === 0) return;
    refreshes++;
    const t0 = performance.now();
    await withModel(() => model.refresh(viewerKeys));
    refreshMs += performance.now() - t0;
    push();
  };

  const push = () => {
    const state = model.state;
    for (const c of clients) {
      if (c.stateSeq !== state.seq && state.json) {
        if (!c.send("state", `{"serverTimeMs":${Date.now()},"state":${state.json}}`)) continue;
        c.stateSeq = state.seq;
      }
      const s = model.series(c.key);
      if (s && c.seriesSeq !== s.seq) {
        if (c.send("series", s.json)) c.seriesSeq = s.seq;
      }
    }
  };

  /** Runs a cycle now, or right after the one in progress; never two at once. */
  const kick = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await cycle();
        } while (again && !closed);
      } catch (err) {
        console.error(`dashboard: refresh failed: ${(err as Error).message}`);
      } finally {
        running = null;
        schedule();
      }
    })();
    return running;
  };

  const schedule = () => {
    if (closed || timer !== undefined || clients.size === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      kick();
    }, intervalMs);
  };

  const onEvents = async (url: URL): Promise<Response> => {
    const params = validateParams(url, ["building", "range"]);
    if (params instanceof Response) return params;
    // The building whitelist comes from silver: read it once before the first check.
    if (model.state.seq === 0) await withModel(() => model.refresh());
    const range = params.range ?? "hour";
    if (!isSeriesRange(range)) return badRequest("range must be one of: hour, day");
    const building = params.building;
    if (building !== undefined && (!BUILDING_RE.test(building) || !model.isBuilding(building))) {
      return badRequest("unknown building");
    }
    if (clients.size >= maxClients) {
      return new Response("too many viewers\n", { status: 503, headers: SECURITY_HEADERS });
    }
    const encoder = new TextEncoder();
    let heartbeat: ReturnType<typeof setInterval> | undefined;
    let client: Client;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        let open = true;
        const drop = () => {
          if (!open) return;
          open = false;
          clearInterval(heartbeat);
          clients.delete(client);
          try {
            controller.close();
          } catch {
            // Already closed by the other side.
          }
        };
        const write = (text: string) => {
          if (!open) return false;
          try {
            controller.enqueue(encoder.encode(text));
            return true;
          } catch {
            drop();
            return false;
          }
        };
        client = {
          key: { building: building ?? model.defaultBuilding() ?? "", range: range as SeriesRange },
          stateSeq: 0,
          seriesSeq: 0,
          send: (event, data) => write(`event: ${event}\ndata: ${data}\n\n`),
          close: drop,
        };
        clients.add(client);
        write(`retry: ${intervalMs}\n\n`);
        heartbeat = setInterval(() => write(": ping\n\n"), HEARTBEAT_MS);
        // Serve what is cached right away; the cycle computes what this viewer still lacks.
        push();
        kick();
      },
      cancel() {
        client?.close();
      },
    });
    return new Response(body, {
      headers: {
        ...SECURITY_HEADERS,
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  };

  const onState = async (url: URL): Promise<Response> => {
    const params = validateParams(url, []);
    if (params instanceof Response) return params;
    if (clients.size === 0) await withModel(() => model.refresh());
    return new Response(model.state.json || "{}", {
      headers: {
        ...SECURITY_HEADERS,
        "content-type": "application/json; charset=utf-8",
        "cache-control": "no-store",
      },
    });
  };

  /** One device's line for its drill-down: building whitelisted, device bound as a parameter. */
  const onDevice = async (url: URL): Promise<Response> => {
    const params = validateParams(url, ["building", "device", "range"]);
    if (params instanceof Response) return params;
    const { building, device } = params;
    const range = params.range ?? "hour";
    if (!isSeriesRange(range)) return badRequest("range must be one of: hour, day");
    if (!building || !BUILDING_RE.test(building) || !model.isBuilding(building)) {
      return badRequest("unknown building");
    }
    if (!device || !DEVICE_RE.test(device)) return badRequest("bad device id");
    const json = await withModel(() => model.deviceSeries(building, device, range));
    return new Response(json, {
      headers: {
        ...SECURITY_HEADERS,
        "content-type": "application/json; charset=utf-8",
        "cache-control": "no-store",
      },
    });
  };

  const handler = async (req: Request): Promise<Response> => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("read-only\n", {
        status: 405,
        headers: { ...SECURITY_HEADERS, allow: "GET, HEAD" },
      });
    }
    const url = new URL(req.url);
    if (
      req.method === "HEAD" && (url.pathname.startsWith("/api/") || url.pathname === "/events")
    ) {
      return new Response(null, { status: 405, headers: { ...SECURITY_HEADERS, allow: "GET" } });
    }
    if (LOOPBACK.has(host) || host === "::1") {
      const hostname = (req.headers.get("host") ?? "").replace(/:\d+$/, "");
      if (!LOOPBACK.has(hostname)) {
        return new Response("forbidden host\n", { status: 403, headers: SECURITY_HEADERS });
      }
    }
    if (url.pathname === "/events") return await onEvents(url);
    if (url.pathname === "/api/state") return await onState(url);
    if (url.pathname === "/api/device") return await onDevice(url);
    const asset = assets.get(url.pathname);
    if (!asset) return new Response("not found\n", { status: 404, headers: SECURITY_HEADERS });
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      "content-type": asset.contentType,
      "cache-control": "no-cache",
      etag: asset.etag,
      vary: "accept-encoding",
    };
    if (req.headers.get("if-none-match") === asset.etag) {
      return new Response(null, { status: 304, headers });
    }
    const gzip = /\bgzip\b/.test(req.headers.get("accept-encoding") ?? "");
    if (gzip) headers["content-encoding"] = "gzip";
    const body = gzip ? asset.gzip : asset.body;
    return new Response(req.method === "HEAD" ? null : body, { headers });
  };

  const { promise: listening, resolve: onListen } = Promise.withResolvers<Deno.NetAddr>();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: host,
      port: opts.port ?? 8080,
      onListen: (addr) => onListen(addr),
      onError: (err) => {
        console.error(`dashboard: ${(err as Error).message}`);
        return new Response("internal error\n", { status: 500, headers: SECURITY_HEADERS });
      },
    }, handler);
  } catch (err) {
    model.close();
    throw new Error(`cannot listen on ${host}:${opts.port ?? 8080}: ${(err as Error).message}`);
  }
  let addr: Deno.NetAddr;
  try {
    addr = await Promise.race([
      listening,
      server.finished.then(() => {
        throw new Error(`dashboard: could not listen on ${host}:${opts.port ?? 8080}`);
      }),
    ]);
  } catch (err) {
    model.close();
    throw err;
  }
  const urlHost = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const base = `http://${urlHost === "0.0.0.0" ? "127.0.0.1" : urlHost}:${addr.port}/`;

  return {
    url: base,
    clients: () => clients.size,
    stats: () => ({ refreshes, queries: model.queriesRun, refreshMs: Math.round(refreshMs) }),
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      for (const c of [...clients]) c.close();
      await running;
      await lock;
      await server.shutdown();
      model.close();
    },
  };
}

/** Rejects unknown or repeated query parameters; returns the known ones. */
function validateParams(
  url: URL,
  allowed: string[],
): Record<string, string | undefined> | Response {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of url.searchParams) {
    if (!allowed.includes(k)) return badRequest(`unknown parameter: ${k.slice(0, 32)}`);
    if (out[k] !== undefined) return badRequest(`repeated parameter: ${k}`);
    out[k] = v;
  }
  return out;
}

function badRequest(msg: string): Response {
  return new Response(`${msg}\n`, { status: 400, headers: SECURITY_HEADERS });
}
