/**
 * Partition values to directory names, and data-file paths to `add.path` URIs.
 *
 * Partition values are untrusted input. Directory names only ever come from
 * `escapePartitionComponent`, which percent-escapes `/`, `\`, `%`, `=`, control characters
 * (including NUL) and the rest of Hive's special set, so a value can never introduce a path
 * separator or a `..` segment: every directory is `<escaped column>=<escaped value>` and
 * stays below the table root. Values whose escaped form would exceed MAX_COMPONENT_BYTES get a
 * hashed directory name instead. Readers never parse directories back: `partitionValues` in
 * the log is the source of truth, so hashing or escaping loses nothing.
 */
import { createHash } from "node:crypto";

/** Longest directory component we create (ext4 and most filesystems allow 255 bytes). */
export const MAX_COMPONENT_BYTES = 200;

/** Directory value Hive and Spark use for null. */
export const NULL_PARTITION_DIR = "__HIVE_DEFAULT_PARTITION__";

const encoder = new TextEncoder();

function needsEscape(code: number): boolean {
  if (code < 0x20 || code === 0x7f) return true;
  // Hive/Spark's charToEscape set, plus space-free ASCII punctuation that shells and URIs trip on.
  return "\"#%'*/:=?\\{[]^".includes(String.fromCharCode(code));
}

/** Hive-style escaping: special ASCII characters become %XX (uppercase hex); others stay. */
export function escapePartitionComponent(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    out += code < 0x80 && needsEscape(code)
      ? "%" + code.toString(16).toUpperCase().padStart(2, "0")
      : value[i];
  }
  return out;
}

/** Inverse of escapePartitionComponent (for display only; readers use partitionValues). */
export function unescapePartitionComponent(value: string): string {
  return value.replace(/%([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * Directory (relative, `/`-separated) for one partition tuple, in partition-column order.
 * Null becomes __HIVE_DEFAULT_PARTITION__, the empty string an empty value (`col=`), and an
 * over-long value `col=__HASH_<sha256 prefix>` (distinct values get distinct directories with
 * overwhelming probability; a collision would still be correct, as file names are unique).
 */
export function partitionDirectory(
  partitionColumns: string[],
  values: Record<string, string | null>,
): string {
  return partitionColumns.map((col) => {
    const v = values[col];
    const escCol = escapePartitionComponent(col);
    let escVal = v === null || v === undefined ? NULL_PARTITION_DIR : escapePartitionComponent(v);
    if (encoder.encode(`${escCol}=${escVal}`).length > MAX_COMPONENT_BYTES) {
      escVal = "__HASH_" + createHash("sha256").update(v ?? "").digest("hex").slice(0, 40);
    }
    return `${escCol}=${escVal}`;
  }).join("/");
}

/**
 * Percent-encodes a relative path for `add.path` per RFC 3986: every byte outside the
 * unreserved set (ALPHA / DIGIT / - . _ ~) becomes %XX, except the `/` separators.
 */
export function encodeAddPath(relativePath: string): string {
  return relativePath.split("/").map((seg) =>
    encodeURIComponent(seg).replace(
      /[!'()*]/g,
      (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
    )
  ).join("/");
}

/** Decodes `add.path` to a relative filesystem path; absolute URIs are returned as-is. */
export function decodeAddPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
