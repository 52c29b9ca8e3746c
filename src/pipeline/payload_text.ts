/**
 * A payload's bytes as the tables keep them: its text (exactly, BOM included) for bronze, and its
 * base64 when the bytes are not UTF-8 (the text is then the lossy decoding).
 *
 * @module
 */

/**
 * `ignoreBOM: true` keeps a leading byte order mark in the text, so bronze holds the payload
 * exactly (TextDecoder drops it by default). The reading is decoded without it: RFC 8259 lets
 * a parser ignore a BOM, and Windows tools write them.
 */
export const lossyUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });
/** Throws on bytes that are not UTF-8. */
export const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
/** The text without a leading byte order mark. */
export const withoutBom = (s: string) => s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;

/** Base64 of bytes of any length (btoa takes a binary string; built in 32 KiB slices). */
export function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}
