/**
 * AWS Signature Version 4 for S3 requests, on WebCrypto (no dependency).
 *
 * Why our own (~100 lines) rather than `aws4fetch` or `@aws-sdk/client-s3`: the lakehouse needs
 * six S3 calls (PUT, conditional PUT, GET, HEAD, DELETE, ListObjectsV2), each a plain `fetch`;
 * the SDK brings hundreds of modules and its own retry/timeout policy that would hide the one
 * decision we must make ourselves (a timed-out conditional PUT is "unknown", not "failed"), and
 * `aws4fetch` is small but signs the payload as UNSIGNED only on request and adds another
 * pinned package for what is a fixed, published algorithm. The signer is tested against AWS's
 * published examples (sigv4_test.ts), so a mistake here cannot pass unnoticed.
 */
import { hex, sha256Hex } from "../hash.ts";

/** Static credentials, from the standard AWS_* variables. */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** What to sign. `headers` are sent as they are, plus the ones signing adds. */
export interface SignInput {
  method: string;
  url: URL;
  headers: Record<string, string>;
  /** Hex SHA-256 of the body (sha256Hex), or "UNSIGNED-PAYLOAD". */
  payloadHash: string;
  region: string;
  service: string;
  credentials: Credentials;
  /** Signing time (default now). */
  now?: Date;
}

const encoder = new TextEncoder();

async function hmac(key: Uint8Array | ArrayBuffer, data: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey(
    "raw",
    key as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return await crypto.subtle.sign("HMAC", k, encoder.encode(data));
}

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** `20130524T000000Z`. */
export function amzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/**
 * Returns the headers to send: the input's, plus `x-amz-date`, `x-amz-content-sha256`,
 * `x-amz-security-token` (with a session token) and `authorization`. Every header given is
 * signed. The URL's path must already be encoded once (S3 does not encode it twice).
 */
export async function signRequest(input: SignInput): Promise<Record<string, string>> {
  const date = amzDate(input.now ?? new Date());
  const day = date.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = v;
  headers["host"] = input.url.host;
  headers["x-amz-date"] = date;
  if (input.service === "s3") headers["x-amz-content-sha256"] = input.payloadHash;
  if (input.credentials.sessionToken) {
    headers["x-amz-security-token"] = input.credentials.sessionToken;
  }
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names
    .map((n) => `${n}:${headers[n].trim().replace(/\s+/g, " ")}\n`)
    .join("");
  const signedHeaders = names.join(";");
  const query = [...input.url.searchParams]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonical = [
    input.method,
    input.url.pathname || "/",
    query,
    canonicalHeaders,
    signedHeaders,
    input.payloadHash,
  ].join("\n");
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", date, scope, await sha256Hex(canonical)].join("\n");
  let key = await hmac(encoder.encode(`AWS4${input.credentials.secretAccessKey}`), day);
  for (const part of [input.region, input.service, "aws4_request"]) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  delete headers["host"];
  headers["authorization"] = `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/` +
    `${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
