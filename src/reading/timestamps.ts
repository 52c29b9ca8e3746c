/**
 * Event-time parsing for decode.ts: ISO-8601 text and epoch numbers to integer epoch ms, by a
 * character scanner (no regular expressions, no `Date.parse`) because it runs on every message.
 *
 * @module
 */

/**
 * Epoch seconds (< 1e11) or milliseconds to integer ms; NaN when not finite. Seconds are
 * rounded to the nearest ms because `1765792800.1 * 1000` is 1765792800099.9998 in binary
 * floating point; milliseconds are truncated like ISO fractions.
 */
export function epochToMillis(n: number): number {
  if (!Number.isFinite(n)) return NaN;
  return Math.abs(n) < 1e11 ? Math.round(n * 1000) : Math.floor(n);
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Reads `len` ASCII digits at `i`; -1 when any is not a digit. */
function digits(s: string, i: number, len: number): number {
  let n = 0;
  for (let k = 0; k < len; k++) {
    const c = s.charCodeAt(i + k) - 48;
    if (!(c >= 0 && c <= 9)) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * Parses ISO-8601 `YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]][Z|±HH:MM|±HHMM|±HH]` to epoch ms;
 * NaN when malformed. No zone means UTC. Fractions beyond milliseconds are truncated. Written
 * as a character scanner because `Date.parse` accepts too much (and differs across engines)
 * and a regex is slower on this hot path.
 *
 * @example
 * ```ts
 * import { parseIsoTimestamp } from "./timestamps.ts";
 * parseIsoTimestamp("2025-12-15T11:00:00+01:00") === Date.UTC(2025, 11, 15, 10); // true
 * ```
 */
export function parseIsoTimestamp(s: string): number {
  const n = s.length;
  if (n < 16 || n > 40) return NaN;
  const year = digits(s, 0, 4);
  if (year < 0 || s.charCodeAt(4) !== 45) return NaN;
  const month = digits(s, 5, 2);
  if (month < 1 || month > 12 || s.charCodeAt(7) !== 45) return NaN;
  const day = digits(s, 8, 2);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const maxDay = month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1];
  if (day < 1 || day > maxDay) return NaN;
  const sep = s.charCodeAt(10);
  if (sep !== 84 /* T */ && sep !== 116 /* t */ && sep !== 32 /* space */) return NaN;
  const hour = digits(s, 11, 2);
  if (hour < 0 || hour > 23 || s.charCodeAt(13) !== 58) return NaN;
  const minute = digits(s, 14, 2);
  if (minute < 0 || minute > 59) return NaN;
  let i = 16;
  let second = 0;
  let ms = 0;
  if (i < n && s.charCodeAt(i) === 58) {
    second = digits(s, i + 1, 2);
    if (second < 0 || second > 59) return NaN;
    i += 3;
    if (i < n && (s.charCodeAt(i) === 46 || s.charCodeAt(i) === 44)) {
      i++;
      const start = i;
      let scale = 100;
      while (i < n) {
        const c = s.charCodeAt(i) - 48;
        if (!(c >= 0 && c <= 9)) break;
        ms += c * scale;
        scale /= 10;
        i++;
      }
      if (i === start) return NaN;
      ms = Math.floor(ms);
    }
  }
  let offsetMin = 0;
  if (i < n) {
    const z = s.charCodeAt(i);
    if (z === 90 /* Z */ || z === 122 /* z */) {
      i++;
    } else if (z === 43 /* + */ || z === 45 /* - */) {
      const oh = digits(s, i + 1, 2);
      if (oh < 0 || oh > 23) return NaN;
      i += 3;
      let om = 0;
      if (i < n) {
        if (s.charCodeAt(i) === 58) i++;
        om = digits(s, i, 2);
        if (om < 0 || om > 59) return NaN;
        i += 2;
      }
      offsetMin = (z === 45 ? -1 : 1) * (oh * 60 + om);
    } else return NaN;
  }
  if (i !== n) return NaN;
  const days = daysFromCivil(year, month, day);
  return (((days * 24 + hour) * 60 + minute - offsetMin) * 60 + second) * 1000 + ms;
}

/**
 * Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm): plain
 * arithmetic, valid for every year including 0..99, which `Date.UTC` would map to 1900+.
 */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
