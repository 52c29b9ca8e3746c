/**
 * Where the lakehouse (and each table) lives: a local directory or `s3://bucket/prefix`.
 *
 * A location is a plain string everywhere — an absolute local path, or a normalised
 * `s3://bucket/key/prefix` URL — so the Delta kernel keeps addressing tables by string and only
 * the storage behind it changes. Any other URL scheme is refused: taken as a relative path,
 * `gs://lake/x` (or `s3://` before this module) silently became a local folder named `gs:`
 * and the user believed the data went to object storage.
 */
import { join, relative, resolve } from "node:path";

/** A location that cannot be used (unknown scheme, bad bucket name). */
export class LocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LocationError";
  }
}

const SCHEME_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*):(\/\/)?/;

/** True for an `s3://` location. */
export function isS3(location: string): boolean {
  return location.startsWith("s3://");
}

/** Bucket and key prefix (no leading or trailing slash) of an `s3://` location. */
export function parseS3(location: string): { bucket: string; key: string } {
  const rest = location.slice("s3://".length);
  const slash = rest.indexOf("/");
  return slash < 0
    ? { bucket: rest, key: "" }
    : { bucket: rest.slice(0, slash), key: rest.slice(slash + 1) };
}

/**
 * Normalises a location given by a user or a caller: `s3://bucket/prefix` (trailing and double
 * slashes dropped), or an absolute local path. Throws LocationError for any other URL scheme
 * (`gs://`, `http://`, `file://`, `s3a://`…) and for a bad bucket name.
 */
export function resolveLocation(value: string): string {
  const m = SCHEME_RE.exec(value);
  // A one-letter "scheme" is a Windows drive (C:\…), not a URL.
  if (m && (m[2] || m[1].length > 1)) {
    if (m[1].toLowerCase() !== "s3" || !m[2]) {
      throw new LocationError(
        `unsupported lakehouse location "${value}": use a local directory or ` +
          "s3://bucket/prefix (any S3-compatible store: AWS S3, Cloudflare R2, MinIO, GCS " +
          "through its S3 API; endpoint and credentials from AWS_ENDPOINT_URL, " +
          "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)",
      );
    }
    const parts = value.slice(m[0].length).split("/").filter((p) => p !== "" && p !== ".");
    if (parts.includes("..")) throw new LocationError(`"${value}": ".." is not allowed in s3://`);
    const bucket = parts[0] ?? "";
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new LocationError(
        `"${value}": "${bucket}" is not a valid S3 bucket name (3-63 lowercase letters, digits, ` +
          "dots and hyphens)",
      );
    }
    return `s3://${parts.join("/")}`;
  }
  return resolve(value);
}

/**
 * A `--lakehouse` value as the tasks keep it: an `s3://` URL normalised, a local path as given
 * (messages show what the user typed). Throws LocationError for other schemes.
 */
export function normaliseLakehouse(value: string): string {
  const location = resolveLocation(value);
  return isS3(location) ? location : value;
}

/** `base` joined with relative parts (`/`-separated), for either kind of location. */
export function joinLocation(base: string, ...parts: string[]): string {
  if (!isS3(base)) return join(base, ...parts);
  const segs = parts.flatMap((p) => p.split("/")).filter((p) => p !== "" && p !== ".");
  return [base.replace(/\/+$/, ""), ...segs].join("/");
}

/** `location` relative to `root` (`/`-separated), for either kind of location. */
export function relativeLocation(root: string, location: string): string {
  if (!isS3(root)) return relative(root, location);
  const prefix = root.replace(/\/+$/, "") + "/";
  if (!location.startsWith(prefix)) {
    throw new LocationError(`${location} is not inside ${root}`);
  }
  return location.slice(prefix.length);
}

/** The location's parent. */
export function parentLocation(location: string): string {
  if (!isS3(location)) return resolve(location, "..");
  const i = location.lastIndexOf("/");
  return i > "s3://".length ? location.slice(0, i) : location;
}
