/**
 * The lakehouse on S3-compatible object storage (AWS S3, Cloudflare R2, MinIO, GCS's S3 API,
 * S3Proxy): plain `fetch` signed with SigV4 (sigv4.ts), path-style URLs.
 *
 * putIfAbsent is `PUT` with `If-None-Match: *`: 200 = created, 412 = the key exists. Its
 * outcome can also be unknown — a timeout, a dropped connection, a 5xx, or 409
 * ConditionalRequestConflict (two conditional writes racing) — and a retried PUT answering
 * 412 may be our own earlier attempt that succeeded (Trino shipped exactly that bug). So after
 * any unknown outcome the key is read back and compared with our bytes: equal means ours
 * (every commit carries a fresh txnId, so two writers never produce equal bytes), different
 * means another writer won, absent means try again.
 *
 * Idempotent requests are retried on network errors, 429 and 5xx with backoff for up to
 * `retryMs` (an S3 server restarting mid-stream is ridden out); then, and for anything the
 * server refuses (wrong credentials, missing bucket), a StorageError says what to check.
 */
import { readEnv } from "../env.ts";
import { type BackoffPolicy, retrying } from "../retry.ts";
import { OutageLog } from "./outage.ts";
import { parseS3 } from "./location.ts";
import { sha256Hex } from "../hash.ts";
import { type Credentials, signRequest, uriEncode } from "./sigv4.ts";
import type { Body, ObjectInfo, Storage } from "./storage.ts";
import { faultPoint } from "../fault_point.ts";

/** Where and as whom to talk S3. */
export interface S3Config {
  /** Endpoint URL without trailing slash, e.g. https://s3.eu-west-1.amazonaws.com. */
  endpoint: string;
  region: string;
  credentials: Credentials;
  /** How long idempotent requests are retried on transient failures, ms (default 20,000). */
  retryMs?: number;
  /** Timeout of one request, ms (default 30,000). */
  timeoutMs?: number;
  /** Where outage lines go (default stderr). */
  log?: (line: string) => void;
}

/**
 * Every S3 request's retry policy: 100 ms doubling to 2 s, for 20 s — long enough to ride out
 * a server restart, short enough that a wrong endpoint is said within a task's first seconds.
 */
export const S3_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 2000, budgetMs: 20_000 };

/** The storage is unreachable, refuses us, or misses the bucket; the message says what to do. */
export class StorageError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = "StorageError";
  }
}

/**
 * The S3 configuration from the standard variables (as delta-rs and the AWS tools read them):
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION (or
 * AWS_DEFAULT_REGION; default us-east-1), AWS_ENDPOINT_URL (default AWS's regional endpoint;
 * `http://` only with AWS_ALLOW_HTTP=true). Secrets are never flags.
 */
export function s3ConfigFromEnv(): S3Config {
  const accessKeyId = readEnv("AWS_ACCESS_KEY_ID");
  const secretAccessKey = readEnv("AWS_SECRET_ACCESS_KEY");
  if (!accessKeyId || !secretAccessKey) {
    throw new StorageError(
      "an s3:// lakehouse needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment " +
        "(and AWS_ENDPOINT_URL for anything but AWS S3)",
    );
  }
  const region = readEnv("AWS_REGION") || readEnv("AWS_DEFAULT_REGION") || "us-east-1";
  const endpoint = (readEnv("AWS_ENDPOINT_URL") || `https://s3.${region}.amazonaws.com`)
    .replace(/\/+$/, "");
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new StorageError(`AWS_ENDPOINT_URL "${endpoint}" is not a URL`);
  }
  if (url.protocol === "http:" && readEnv("AWS_ALLOW_HTTP") !== "true") {
    throw new StorageError(
      `AWS_ENDPOINT_URL ${endpoint} is plain http: set AWS_ALLOW_HTTP=true to allow it ` +
        "(credentials are signed, not encrypted, and the data travels in clear)",
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new StorageError(`AWS_ENDPOINT_URL ${endpoint} must be http(s)://`);
  }
  const sessionToken = readEnv("AWS_SESSION_TOKEN") || undefined;
  return { endpoint, region, credentials: { accessKeyId, secretAccessKey, sessionToken } };
}

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const encoder = new TextEncoder();

function bytesOf(body: Body): Uint8Array {
  return typeof body === "string" ? encoder.encode(body) : body;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** S3Proxy stores an EMPTY body for form-urlencoded PUTs: always name a real type. */
function contentType(key: string): string {
  return key.endsWith(".json") ? "application/json" : "application/octet-stream";
}

function xmlText(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);/gi, (_, e: string) => {
    const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
    if (e[0] !== "#") return named[e.toLowerCase()];
    return String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
  });
}

function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return m ? xmlText(m[1]) : undefined;
}

/**
 * A request whose outcome we do not know (no answer, or an answer that may hide success);
 * `cause` is the short reason an operator reads ("Connection refused", "503").
 */
class Unknown extends Error {
  constructor(message: string, override readonly cause: string) {
    super(message);
  }
}

/** The useful end of a fetch error ("… tcp connect error: Connection refused (os error 111)"). */
function shortCause(err: unknown): string {
  if (err instanceof DOMException && err.name === "TimeoutError") return "timed out";
  // Deno's "fetch failed" keeps the reason in `cause`.
  const inner = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const msg = inner instanceof Error ? inner.message : String(inner);
  const last = msg.split(": ").at(-1)!.replace(/\s*\(os error \d+\)$/, "");
  return last.length > 80 ? `${last.slice(0, 80)}…` : last;
}

const TRANSIENT = new Set([429, 500, 502, 503, 504]);

/** See the module doc. */
export class S3Storage implements Storage {
  readonly kind = "s3";
  readonly #policy: BackoffPolicy;
  readonly #timeoutMs: number;
  readonly #outage: OutageLog;

  constructor(readonly config: S3Config) {
    this.#policy = { ...S3_BACKOFF, budgetMs: config.retryMs ?? S3_BACKOFF.budgetMs };
    this.#timeoutMs = config.timeoutMs ?? 30_000;
    this.#outage = new OutageLog(config.endpoint, config.log);
  }

  #url(bucket: string, key: string, query: Record<string, string> = {}): URL {
    const path = key.split("/").map(uriEncode).join("/");
    const url = new URL(`${this.config.endpoint}/${bucket}${key ? `/${path}` : "/"}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url;
  }

  /** One signed request, no retry. Network failures and timeouts throw Unknown. */
  async #once(
    method: string,
    bucket: string,
    key: string,
    opts: { query?: Record<string, string>; headers?: Record<string, string>; body?: Uint8Array },
  ): Promise<Response> {
    const url = this.#url(bucket, key, opts.query);
    const headers = await signRequest({
      method,
      url,
      headers: opts.headers ?? {},
      payloadHash: opts.body ? await sha256Hex(opts.body) : EMPTY_SHA256,
      region: this.config.region,
      service: "s3",
      credentials: this.config.credentials,
    });
    try {
      return await fetch(url, {
        method,
        headers,
        body: opts.body as Uint8Array<ArrayBuffer> | undefined,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new Unknown(`${method} ${url}: ${(err as Error).message}`, shortCause(err));
    }
  }

  /** Runs `attempt` until it returns, retrying Unknown outcomes while the budget lasts. */
  async #retrying<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
      const out = await retrying(attempt, {
        ...this.#policy,
        retryable: (err) => err instanceof Unknown,
        onRetry: (e) => this.#outage.retrying(what, (e.error as Unknown).cause, e),
      });
      this.#outage.answered();
      return out;
    } catch (err) {
      if (!(err instanceof Unknown)) {
        this.#outage.answered();
        throw err;
      }
      throw this.#unreachable(what, err, Date.now() - t0);
    }
  }

  #unreachable(what: string, err: Unknown, ms: number): StorageError {
    return new StorageError(
      `cannot reach the S3 endpoint ${this.config.endpoint} for ${what} (${err.cause}; tried ` +
        `for ${Math.round(ms / 1000)} s). Check AWS_ENDPOINT_URL and that the server is up`,
      "Unreachable",
    );
  }

  /** Turns a refusal into a StorageError; transient statuses into Unknown. */
  async #fail(res: Response, method: string, bucket: string, key: string): Promise<never> {
    const text = await res.text().catch(() => "");
    if (TRANSIENT.has(res.status)) {
      throw new Unknown(`${method} ${bucket}/${key}: ${res.status}`, `HTTP ${res.status}`);
    }
    const code = tag(text, "Code") ?? String(res.status);
    const message = tag(text, "Message") ?? res.statusText;
    const where = `s3://${bucket}/${key} at ${this.config.endpoint}`;
    if (code === "NoSuchBucket") {
      throw new StorageError(
        `bucket "${bucket}" does not exist at ${this.config.endpoint} (NoSuchBucket): create it ` +
          "or fix the lakehouse location",
        code,
      );
    }
    if (res.status === 403 || res.status === 401) {
      throw new StorageError(
        `S3 refused ${method} ${where}: ${code} (${message}). Check AWS_ACCESS_KEY_ID, ` +
          "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN, AWS_REGION)",
        code,
      );
    }
    throw new StorageError(
      `S3 ${method} ${where} failed: ${res.status} ${code} (${message})`,
      code,
    );
  }

  async putIfAbsent(location: string, body: Body): Promise<boolean> {
    const { bucket, key } = parseS3(location);
    const ours = bytesOf(body);
    const headers = { "content-type": contentType(key), "if-none-match": "*" };
    // After an attempt whose outcome is unknown, a 412 may be our own write: only the key's
    // content can tell, so every later attempt reads it back first.
    let uncertain = false;
    return await this.#retrying(`PUT ${location}`, async () => {
      if (uncertain) {
        const now = await this.#getOrUnknown(bucket, key);
        if (now instanceof Uint8Array) return sameBytes(now, ours);
      }
      try {
        const res = await this.#once("PUT", bucket, key, { headers, body: ours });
        // Test-only (fault_point.ts): a `_delta_log` entry's PUT answered, its body unread.
        if (key.endsWith(".json")) faultPoint("commit-put", "during", location);
        if (res.ok) {
          await res.body?.cancel();
          return true;
        }
        if (res.status === 412 && !uncertain) {
          await res.body?.cancel();
          return false;
        }
        if (res.status !== 412 && res.status !== 409) await this.#fail(res, "PUT", bucket, key);
        await res.body?.cancel();
        throw new Unknown(`PUT ${location}: ${res.status}`, `HTTP ${res.status}`);
      } catch (err) {
        if (err instanceof Unknown) uncertain = true;
        throw err;
      }
    });
  }

  async putFileIfAbsent(location: string, localFile: string): Promise<boolean> {
    return await this.putIfAbsent(location, await Deno.readFile(localFile));
  }

  /** In the OS temp directory (the caller removes it). */
  async scratchFile(location: string): Promise<string> {
    const name = location.slice(location.lastIndexOf("/") + 1);
    return await Deno.makeTempFile({ prefix: "lakehouse-s3-", suffix: `-${name}` });
  }

  async put(location: string, body: Body): Promise<void> {
    const { bucket, key } = parseS3(location);
    const bytes = bytesOf(body);
    await this.#retrying(`PUT ${location}`, async () => {
      const res = await this.#once("PUT", bucket, key, {
        headers: { "content-type": contentType(key) },
        body: bytes,
      });
      if (!res.ok) await this.#fail(res, "PUT", bucket, key);
      await res.body?.cancel();
    });
  }

  async #getOrUnknown(bucket: string, key: string): Promise<Uint8Array | undefined> {
    const res = await this.#once("GET", bucket, key, {});
    if (res.status === 404) {
      const text = await res.text();
      if (tag(text, "Code") === "NoSuchBucket") {
        await this.#fail(new Response(text, { status: 404 }), "GET", bucket, key);
      }
      return undefined;
    }
    if (!res.ok) await this.#fail(res, "GET", bucket, key);
    try {
      return new Uint8Array(await res.arrayBuffer());
    } catch (err) {
      throw new Unknown(
        `GET ${bucket}/${key}: body cut off (${(err as Error).message})`,
        "body cut off",
      );
    }
  }

  async get(location: string): Promise<Uint8Array | undefined> {
    const { bucket, key } = parseS3(location);
    return await this.#retrying(`GET ${location}`, () => this.#getOrUnknown(bucket, key));
  }

  async head(location: string): Promise<ObjectInfo | undefined> {
    const { bucket, key } = parseS3(location);
    return await this.#retrying(`HEAD ${location}`, async () => {
      const res = await this.#once("HEAD", bucket, key, {});
      if (res.status === 404) {
        // HEAD has no body to tell a missing key from a missing bucket: ask the bucket.
        await this.#bucketMustExist(bucket);
        return undefined;
      }
      if (!res.ok) await this.#fail(res, "HEAD", bucket, key);
      return {
        location,
        size: Number(res.headers.get("content-length") ?? 0),
        mtime: Date.parse(res.headers.get("last-modified") ?? "") || 0,
      };
    });
  }

  readonly #bucketsSeen = new Set<string>();

  async #bucketMustExist(bucket: string): Promise<void> {
    if (this.#bucketsSeen.has(bucket)) return;
    const res = await this.#once("GET", bucket, "", {
      query: { "list-type": "2", "max-keys": "0" },
    });
    if (!res.ok) await this.#fail(res, "GET", bucket, "");
    await res.body?.cancel();
    this.#bucketsSeen.add(bucket);
  }

  /**
   * The pages of a ListObjectsV2 under directory `location` (`key/`), following continuation
   * tokens; `delimiter` groups deeper keys into CommonPrefixes.
   */
  async *#listPages(
    location: string,
    opts: { delimiter: boolean; startAfter?: string },
  ): AsyncGenerator<{ xml: string; bucket: string; prefix: string }> {
    const { bucket, key } = parseS3(location);
    const prefix = key ? `${key}/` : "";
    let token: string | undefined;
    do {
      const query: Record<string, string> = { "list-type": "2", prefix };
      if (opts.delimiter) query.delimiter = "/";
      if (token) query["continuation-token"] = token;
      else if (opts.startAfter) query["start-after"] = parseS3(opts.startAfter).key;
      const xml = await this.#retrying(`LIST ${location}`, async () => {
        const res = await this.#once("GET", bucket, "", { query });
        if (!res.ok) await this.#fail(res, "LIST", bucket, prefix);
        return await res.text();
      });
      yield { xml, bucket, prefix };
      token = tag(xml, "IsTruncated") === "true" ? tag(xml, "NextContinuationToken") : undefined;
    } while (token);
  }

  async list(
    location: string,
    opts: { recursive?: boolean; startAfter?: string; details?: boolean } = {},
  ): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    const pages = this.#listPages(location, {
      delimiter: !opts.recursive,
      startAfter: opts.startAfter,
    });
    for await (const { xml, bucket } of pages) {
      for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
        out.push({
          location: `s3://${bucket}/${tag(m[1], "Key")}`,
          size: Number(tag(m[1], "Size") ?? 0),
          mtime: Date.parse(tag(m[1], "LastModified") ?? "") || 0,
        });
      }
    }
    return out;
  }

  async listDirectories(location: string): Promise<string[]> {
    const out: string[] = [];
    for await (const { xml, prefix } of this.#listPages(location, { delimiter: true })) {
      for (const m of xml.matchAll(/<CommonPrefixes>([\s\S]*?)<\/CommonPrefixes>/g)) {
        out.push(tag(m[1], "Prefix")!.slice(prefix.length).replace(/\/$/, ""));
      }
    }
    return out.sort();
  }

  /** A HEAD first: S3 answers a DELETE of a missing key with 204 too. */
  async delete(location: string): Promise<boolean> {
    if (await this.head(location) === undefined) return false;
    const { bucket, key } = parseS3(location);
    return await this.#retrying(`DELETE ${location}`, async () => {
      const res = await this.#once("DELETE", bucket, key, {});
      if (!res.ok && res.status !== 404) await this.#fail(res, "DELETE", bucket, key);
      await res.body?.cancel();
      return true;
    });
  }

  /** Creates `bucket` (tests and the local S3Proxy); an existing one owned by us is fine. */
  async createBucket(bucket: string): Promise<void> {
    await this.#retrying(`create bucket ${bucket}`, async () => {
      const res = await this.#once("PUT", bucket, "", {});
      if (!res.ok && res.status !== 409) await this.#fail(res, "PUT", bucket, "");
      await res.body?.cancel();
    });
  }
}
