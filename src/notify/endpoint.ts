/**
 * Notification endpoints: validated at start (a bad URL is an error before gold does anything),
 * and one HTTP POST of an event with its idempotency key and optional HMAC signature.
 *
 * Headers of every POST:
 *   Content-Type: application/json
 *   Idempotency-Key: <event_id>          the same for every retry and every re-send
 *   X-SmartTech-Event: opened|escalated|cleared|reopened
 *   X-SmartTech-Signature: sha256=<hex>  only with a secret: HMAC-SHA256 of the raw body
 */
import { hex, sha256Hex } from "../hash.ts";
import { type IncidentEvent, slackBody } from "./events.ts";

/** Body shapes: the generic event JSON, or Slack's incoming-webhook `{text}`. */
export type NotifyFormat = "json" | "slack";

export const NOTIFY_FORMATS: readonly NotifyFormat[] = ["json", "slack"];

/** A notification target. */
export interface Endpoint {
  url: URL;
  format: NotifyFormat;
  /**
   * Stable name of the endpoint in the lakehouse (its delivery position): a hash of the URL,
   * so a token in a webhook's path is never written anywhere.
   */
  id: string;
  /** For logs: scheme, host and port only (webhook paths often carry secrets). */
  label: string;
}

/** A --notify value that is not an http(s) URL, or an unknown format. */
export class NotifyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotifyConfigError";
  }
}

/**
 * Parses and checks one endpoint URL. A URL written `slack+https://…` (or `json+…`) has that
 * format whatever `format` says: a Slack channel beside a generic receiver.
 */
export async function parseEndpoint(raw: string, format: NotifyFormat = "json"): Promise<Endpoint> {
  const own = /^(json|slack)\+(https?:.*)$/i.exec(raw.trim());
  if (own) return parseEndpoint(own[2], own[1].toLowerCase() as NotifyFormat);
  if (!NOTIFY_FORMATS.includes(format)) {
    throw new NotifyConfigError(
      `unknown notification format "${format}" (expected ${NOTIFY_FORMATS.join(" or ")})`,
    );
  }
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new NotifyConfigError(
      `notification URL "${raw}" is not a URL (expected http(s)://host/path)`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new NotifyConfigError(
      `notification URL "${raw}" must be http:// or https://, not ${url.protocol}`,
    );
  }
  if (url.hostname === "") throw new NotifyConfigError(`notification URL "${raw}" has no host`);
  const id = await sha256Hex(`${format}|${url.href}`, 8);
  return { url, format, id, label: `${url.origin} (${format}, ${id})` };
}

/** HMAC-SHA256 of `body` with `secret`, hex. */
export async function signBody(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body));
  return hex(mac);
}

/** How one POST ended. */
export type PostOutcome =
  | { ok: true; status: number }
  /** retry: worth trying again (network error, timeout, 408, 429, 5xx). */
  | { ok: false; retry: boolean; reason: string };

/** POSTs one event once (no retries here), giving up after `timeoutMs`. */
export async function postEvent(
  endpoint: Endpoint,
  event: IncidentEvent,
  opts: { secret?: string; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<PostOutcome> {
  const body = JSON.stringify(endpoint.format === "slack" ? slackBody(event) : event);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "idempotency-key": event.event_id,
    "x-smarttech-event": event.event,
  };
  if (opts.secret) {
    headers["x-smarttech-signature"] = `sha256=${await signBody(opts.secret, body)}`;
  }
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? 10_000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  try {
    const res = await fetch(endpoint.url, { method: "POST", headers, body, signal });
    await res.body?.cancel();
    if (res.ok) return { ok: true, status: res.status };
    const retry = res.status === 408 || res.status === 429 || res.status >= 500;
    return { ok: false, retry, reason: `HTTP ${res.status}` };
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    return { ok: false, retry: true, reason: err instanceof Error ? err.message : String(err) };
  }
}
