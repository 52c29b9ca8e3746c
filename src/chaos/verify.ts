/**
 * How a chaos scenario judges the lakehouse: only through what an outside reader sees (DuckDB's
 * delta_scan) — the row counts against the mix's known outcome, every table version readable,
 * and whether the tables caught up with the topic.
 */
import type { Kafka } from "kafkajs";
import { commitPath, listLog } from "../delta/log.ts";
import { loadSnapshot } from "../delta/snapshot.ts";
import { openDuckDB, sqlString } from "../duckdb/engine.ts";
import { enableLocation } from "../duckdb/s3.ts";
import { joinLocation } from "../storage/location.ts";
import { storageFor } from "../storage/storage.ts";
import { Prng } from "../simulator/prng.ts";
import type { Mix, TableCounts } from "./mix.ts";

/** The three tables every check covers. */
export const TABLES = ["bronze", "silver", "quarantine"] as const;
/** Expected outcome of a mix (or of what actually reached the topic). */
export interface Expected {
  messages: number;
  valid: number;
  duplicates: number;
  rejects: Record<string, number>;
}

/** The outcome makeMix built in. */
export function expectedOf(mix: Mix): Expected {
  return {
    messages: mix.messages.length,
    valid: mix.valid,
    duplicates: mix.duplicates,
    rejects: mix.rejects,
  };
}

/**
 * Compares counts with the expected outcome. Lost and duplicated rows are counted separately
 * per table so a report says which guarantee broke, not only that a number differs.
 */
export function exactness(
  c: TableCounts,
  e: Expected,
): { lost: number; duplicates: number; problems: string[] } {
  const rejects = Object.values(e.rejects).reduce((a, b) => a + b, 0);
  const problems: string[] = [];
  const check = (what: string, got: number, want: number) => {
    if (got !== want) problems.push(`${what}: ${got}, expected ${want}`);
  };
  check("bronze rows", c.bronze, e.messages);
  check("bronze distinct (topic, partition, offset)", c.bronzeDistinctCoords, e.messages);
  check("bronze status=duplicate", c.bronzeDuplicates, e.duplicates);
  check("silver rows", c.silver, e.valid);
  check("silver distinct (device_id, type, timestamp)", c.silverDistinctKeys, e.valid);
  check("quarantine rows", c.quarantine, rejects);
  check("quarantine distinct coordinates", c.quarantineDistinctCoords, rejects);
  const reasons = new Set([...Object.keys(c.reasons), ...Object.keys(e.rejects)]);
  for (const r of [...reasons].sort()) {
    check(`quarantine reason ${r}`, c.reasons[r] ?? 0, e.rejects[r] ?? 0);
  }
  if (c.bronze !== c.silver + c.quarantine + c.bronzeDuplicates) {
    problems.push(
      `accounting: bronze ${c.bronze} != silver ${c.silver} + quarantine ${c.quarantine} + ` +
        `duplicates ${c.bronzeDuplicates}`,
    );
  }
  const lost = Math.max(0, e.messages - c.bronzeDistinctCoords) +
    Math.max(0, e.valid - c.silverDistinctKeys) +
    Math.max(0, rejects - c.quarantineDistinctCoords);
  const duplicates = (c.bronze - c.bronzeDistinctCoords) + (c.silver - c.silverDistinctKeys) +
    (c.quarantine - c.quarantineDistinctCoords);
  return { lost, duplicates, problems };
}

/** Latest committed version of a table, -1 before it exists. */
export async function latestVersion(tablePath: string): Promise<number> {
  const { commits } = await listLog(tablePath);
  return commits.at(-1) ?? -1;
}

/** Versions to read: all of them, or a seeded sample that always keeps the first and last. */
function pickVersions(latest: number, sample: number | undefined, prng: Prng): number[] {
  const all = Array.from({ length: latest + 1 }, (_, v) => v);
  if (sample === undefined || sample >= all.length) return all;
  const picked = new Set([0, latest]);
  while (picked.size < sample) picked.add(prng.int(0, latest));
  return [...picked].sort((a, b) => a - b);
}

/**
 * Reads table versions back: every commit file must be complete JSON (no half-written
 * commit), and `delta_scan(path, version := v)` must answer for each checked version with a
 * row count that never decreases (the tables are append-only; optimize keeps counts).
 */
export async function checkVersions(
  lakehouse: string,
  opts: { sample?: number; seed?: number } = {},
): Promise<{ checked: number; problems: string[] }> {
  const problems: string[] = [];
  const prng = new Prng(opts.seed ?? 1);
  let checked = 0;
  const db = await openDuckDB();
  try {
    await enableLocation(db.conn, lakehouse);
    for (const table of TABLES) {
      const path = joinLocation(lakehouse, table);
      const { commits } = await listLog(path);
      for (let i = 0; i < commits.length; i++) {
        if (commits[i] !== i) {
          problems.push(`${table}: commit versions have a gap before ${commits[i]}`);
          break;
        }
      }
      for (const v of commits) {
        const text = new TextDecoder().decode(await storageFor(path).get(commitPath(path, v)));
        const lines = text.split("\n").filter((l) => l.trim() !== "");
        try {
          for (const l of lines) JSON.parse(l);
          if (!lines.some((l) => l.includes('"commitInfo"'))) throw new Error("no commitInfo");
        } catch (err) {
          problems.push(`${table} version ${v}: incomplete commit file (${err})`);
        }
      }
      let previous = -1;
      for (const v of pickVersions(commits.at(-1) ?? -1, opts.sample, prng)) {
        try {
          const rows = await db.conn.runAndReadAll(
            `SELECT count(*) FROM delta_scan(${sqlString(path)}, version := ${v})`,
          );
          const n = Number(rows.getRows()[0][0]);
          if (n < previous) problems.push(`${table} version ${v}: ${n} rows, fewer than before`);
          previous = n;
          checked++;
        } catch (err) {
          problems.push(`${table} version ${v} unreadable by delta_scan: ${err}`);
        }
      }
    }
  } finally {
    db.close();
  }
  return { checked, problems };
}
/**
 * True when the tables hold every offset below each partition's high watermark: the
 * consumer's own caught-up rule, read from the Delta log (cheaper than counting rows).
 */
export async function tablesCaughtUp(
  lakehouse: string,
  topic: string,
  highs: Map<number, number>,
  appName = "smarttech",
): Promise<boolean> {
  try {
    const snaps = await Promise.all(TABLES.map((t) => loadSnapshot(joinLocation(lakehouse, t))));
    for (const [p, high] of highs) {
      const appId = `${appName}-${topic}-${p}`;
      for (const s of snaps) {
        if (high > 0 && (s.txnVersion(appId) ?? -1) < high - 1) return false;
      }
    }
    return true;
  } catch {
    return false;
  }
}

/** High watermark per partition. */
export async function highWatermarks(kafka: Kafka, topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const m = new Map<number, number>();
    for (const p of await admin.fetchTopicOffsets(topic)) m.set(p.partition, Number(p.high));
    return m;
  } finally {
    await admin.disconnect();
  }
}

/**
 * The expected outcome of what actually reached the topic, for producers that are only
 * at-least-once: a batch re-sent after a lost acknowledgement adds messages the mix did not
 * plan. Classifies every message by its value: the first copy of a valid reading is valid,
 * later copies are duplicates; every copy of a reject is a reject.
 */
export async function expectedFromTopic(
  kafka: Kafka,
  topic: string,
  mix: Mix,
): Promise<Expected> {
  const reasonOf = new Map<string, string>();
  // makeMix's rejects are recognisable from their content alone.
  const classify = (value: string): string => {
    try {
      const o = JSON.parse(value);
      if (o.value === undefined) return "missing_field:value";
      if (o.type === "radiation") return "unknown_type";
      return "valid_or_range";
    } catch {
      return "malformed_json";
    }
  };
  for (const m of mix.messages) reasonOf.set(m.value, classify(m.value));
  const highs = await highWatermarks(kafka, topic);
  const total = [...highs.values()].reduce((a, b) => a + b, 0);
  const e: Expected = { messages: total, valid: 0, duplicates: 0, rejects: {} };
  const consumer = kafka.consumer({ groupId: `chaos-verify-${crypto.randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let read = 0;
  const firstSeen = new Set<string>();
  await new Promise<void>((resolve, reject) => {
    consumer.run({
      eachMessage: ({ message }) => {
        const v = message.value?.toString("utf8") ?? "";
        let reason = reasonOf.get(v) ?? "unknown";
        if (reason === "valid_or_range") {
          const o = JSON.parse(v);
          const inRange = o.type === "co2"
            ? o.value <= 10000
            : o.type === "humidity"
            ? o.value <= 100
            : o.type === "energy"
            ? o.value >= 0
            : o.unit === "F"
            ? (o.value - 32) * 5 / 9 <= 85
            : o.value <= 85;
          reason = inRange ? "valid" : "out_of_range";
        }
        if (reason === "valid") {
          if (firstSeen.has(v)) e.duplicates++;
          else {
            firstSeen.add(v);
            e.valid++;
          }
        } else e.rejects[reason] = (e.rejects[reason] ?? 0) + 1;
        if (++read >= total) resolve();
        return Promise.resolve();
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  return e;
}
