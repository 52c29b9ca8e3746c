/**
 * SHA-256 as lower-case hex, the one helper for it: S3 signing hashes request bodies with it
 * (src/storage/sigv4.ts) and notifications derive stable ids from it (src/notify/). WebCrypto,
 * so no dependency.
 */

const encoder = new TextEncoder();

/** Lower-case hex of bytes. */
export function hex(bytes: ArrayBuffer | Uint8Array): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Hex SHA-256 of a string (as UTF-8) or bytes: 64 hex digits, or the first `bytes` bytes of
 * the digest (2 × `bytes` digits) for a shorter id.
 */
export async function sha256Hex(data: Uint8Array | string, bytes = 32): Promise<string> {
  const input = typeof data === "string" ? encoder.encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", input as Uint8Array<ArrayBuffer>);
  return hex(new Uint8Array(digest).subarray(0, bytes));
}
