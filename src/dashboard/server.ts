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
import { DashboardModel, isSeriesRange, type SeriesKey, seriesKeyString } from "./model.ts";
import { loadStaticAssets, type StaticAsset } from "./static_files.ts";
import { createKafka } from "../kafka/client.ts";
import { cachedLagSource } from "../kafka/lag.ts";
import type { SensorCatalogue } from "../reading/catalogue.ts";

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
  /** The sensor catalogue: the types shown, their units and bands (default the built-in one). */
  catalogue?: SensorCatalogue;
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
    opts.catalogue,
  );
  const server = new DashboardServer(opts, model, assets);
  try {
    await server.listen(opts.port ?? 8080);
  } catch (err) {
    model.close();
    throw err;
  }
  return server;
}

const JSON_HEADERS = {
  ...SECURITY_HEADERS,
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
};

/**
 * The refresh loop and the HTTP routes around one model. At most one refresh runs at a time
 * (`#kick` coalesces requests that arrive meanwhile) and every use of the model goes through
 * `#withModel`, because the model holds one DuckDB connection.
 */
class DashboardServer implements DashboardHandle {
  url = "";
  readonly #host: string;
  readonly #intervalMs: number;
  readonly #maxClients: number;
  readonly #model: DashboardModel;
  readonly #assets: Map<string, StaticAsset>;
  readonly #clients = new Set<Client>();
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #refreshes = 0;
  #refreshMs = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | null = null;
  #again = false;
  #closed = false;
  #lock: Promise<unknown> = Promise.resolve();

  constructor(
    opts: DashboardOptions,
    model: DashboardModel,
    assets: Map<string, StaticAsset>,
  ) {
    this.#host = opts.host ?? "127.0.0.1";
    this.#intervalMs = Math.max(100, opts.intervalMs ?? 2000);
    this.#maxClients = opts.maxClients ?? 64;
    this.#model = model;
    this.#assets = assets;
  }

  clients(): number {
    return this.#clients.size;
  }

  stats(): { refreshes: number; queries: number; refreshMs: number } {
    return {
      refreshes: this.#refreshes,
      queries: this.#model.queriesRun,
      refreshMs: Math.round(this.#refreshMs),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const c of [...this.#clients]) c.close();
    await this.#running;
    await this.#lock;
    await this.#server?.shutdown();
    this.#model.close();
  }

  /** Binds the port; sets `url` once listening. */
  async listen(port: number): Promise<void> {
    const host = this.#host;
    const { promise: listening, resolve: onListen } = Promise.withResolvers<Deno.NetAddr>();
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({
        hostname: host,
        port,
        onListen: (addr) => onListen(addr),
        onError: (err) => {
          console.error(`dashboard: ${(err as Error).message}`);
          return new Response("internal error\n", { status: 500, headers: SECURITY_HEADERS });
        },
      }, (req) => this.#handle(req));
    } catch (err) {
      throw new Error(`cannot listen on ${host}:${port}: ${(err as Error).message}`);
    }
    this.#server = server;
    const addr = await Promise.race([
      listening,
      server.finished.then(() => {
        throw new Error(`dashboard: could not listen on ${host}:${port}`);
      }),
    ]);
    const urlHost = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    this.url = `http://${urlHost === "0.0.0.0" ? "127.0.0.1" : urlHost}:${addr.port}/`;
  }

  /** Serialises every use of the model: one DuckDB connection, one refresh at a time. */
  #withModel<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.catch(() => {});
    return run;
  }

  /** Assigns the default building to viewers that have none (or one that vanished). */
  #viewerKeys(): SeriesKey[] {
    const model = this.#model;
    const keys = new Map<string, SeriesKey>();
    for (const c of this.#clients) {
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
  }

  /** One refresh for everyone, then a push of whatever changed to each viewer. */
  async #cycle(): Promise<void> {
    if (this.#clients.size === 0) return;
    this.#refreshes++;
    const t0 = performance.now();
    await this.#withModel(() => this.#model.refresh(() => this.#viewerKeys()));
    this.#refreshMs += performance.now() - t0;
    this.#push();
  }

  #push(): void {
    const state = this.#model.state;
    for (const c of this.#clients) {
      if (c.stateSeq !== state.seq && state.json) {
        if (!c.send("state", `{"serverTimeMs":${Date.now()},"state":${state.json}}`)) continue;
        c.stateSeq = state.seq;
      }
      const s = this.#model.series(c.key);
      if (s && c.seriesSeq !== s.seq) {
        if (c.send("series", s.json)) c.seriesSeq = s.seq;
      }
    }
  }

  /** Runs a cycle now, or right after the one in progress; never two at once. */
  #kick(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#cycle();
        } while (this.#again && !this.#closed);
      } catch (err) {
        console.error(`dashboard: refresh failed: ${(err as Error).message}`);
      } finally {
        this.#running = null;
        this.#schedule();
      }
    })();
    return this.#running;
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== undefined || this.#clients.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, this.#intervalMs);
  }

  async #handle(req: Request): Promise<Response> {
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
    if (LOOPBACK.has(this.#host)) {
      const hostname = (req.headers.get("host") ?? "").replace(/:\d+$/, "");
      if (!LOOPBACK.has(hostname)) {
        return new Response("forbidden host\n", { status: 403, headers: SECURITY_HEADERS });
      }
    }
    if (url.pathname === "/events") return await this.#onEvents(url);
    if (url.pathname === "/api/state") return await this.#onState(url);
    if (url.pathname === "/api/device") return await this.#onDevice(url);
    return this.#onAsset(req, url);
  }

  #onAsset(req: Request, url: URL): Response {
    const asset = this.#assets.get(url.pathname);
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
  }

  async #onEvents(url: URL): Promise<Response> {
    const model = this.#model;
    const params = validateParams(url, ["building", "range"]);
    if (params instanceof Response) return params;
    // The building whitelist comes from silver: read it once before the first check.
    if (model.state.seq === 0) await this.#withModel(() => model.refresh());
    const range = params.range ?? "hour";
    if (!isSeriesRange(range)) return badRequest("range must be one of: hour, day");
    const building = params.building;
    if (building !== undefined && (!BUILDING_RE.test(building) || !model.isBuilding(building))) {
      return badRequest("unknown building");
    }
    if (this.#clients.size >= this.#maxClients) {
      return new Response("too many viewers\n", { status: 503, headers: SECURITY_HEADERS });
    }
    const key = { building: building ?? model.defaultBuilding() ?? "", range };
    return new Response(this.#openStream(key), {
      headers: {
        ...SECURITY_HEADERS,
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  }

  /** One viewer's SSE stream: registered on start, dropped on cancel or a failed write. */
  #openStream(key: SeriesKey): ReadableStream<Uint8Array> {
    const encoder = new TextEncoder();
    const clients = this.#clients;
    let heartbeat: ReturnType<typeof setInterval> | undefined;
    let client: Client | undefined;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        let open = true;
        const drop = () => {
          if (!open) return;
          open = false;
          clearInterval(heartbeat);
          if (client) clients.delete(client);
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
          key,
          stateSeq: 0,
          seriesSeq: 0,
          send: (event, data) => write(`event: ${event}\ndata: ${data}\n\n`),
          close: drop,
        };
        clients.add(client);
        write(`retry: ${this.#intervalMs}\n\n`);
        heartbeat = setInterval(() => write(": ping\n\n"), HEARTBEAT_MS);
        // Serve what is cached right away; the cycle computes what this viewer still lacks.
        this.#push();
        this.#kick();
      },
      cancel() {
        client?.close();
      },
    });
  }

  async #onState(url: URL): Promise<Response> {
    const params = validateParams(url, []);
    if (params instanceof Response) return params;
    if (this.#clients.size === 0) await this.#withModel(() => this.#model.refresh());
    return new Response(this.#model.state.json || "{}", { headers: JSON_HEADERS });
  }

  /** One device's line for its drill-down: building whitelisted, device bound as a parameter. */
  async #onDevice(url: URL): Promise<Response> {
    const model = this.#model;
    const params = validateParams(url, ["building", "device", "range"]);
    if (params instanceof Response) return params;
    const { building, device } = params;
    const range = params.range ?? "hour";
    if (!isSeriesRange(range)) return badRequest("range must be one of: hour, day");
    if (!building || !BUILDING_RE.test(building) || !model.isBuilding(building)) {
      return badRequest("unknown building");
    }
    if (!device || !DEVICE_RE.test(device)) return badRequest("bad device id");
    const json = await this.#withModel(() => model.deviceSeries(building, device, range));
    return new Response(json, { headers: JSON_HEADERS });
  }
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
