/**
 * What an S3 server does under concurrent writers, measured (issue 25): the two behaviours the
 * Delta kernel leans on, used by the storage tests and by bench/s3_server_check.ts to compare
 * local servers (docs/object-storage.md).
 *
 * - Conditional create: concurrent `PUT If-None-Match: *` of one key; a server that does it for
 *   real answers exactly one 200 and 412 (or 409) to the rest.
 * - Listing after acknowledged PUTs: writers PUT sequential keys into one prefix (as Delta
 *   writers put `_delta_log/<version>.json`) while a lister lists it; every key whose PUT was
 *   acknowledged before a listing began must be in it. AWS S3, R2 and MinIO list strongly
 *   consistently; S3Proxy 4.0.0 truncated listings taken while a PUT finished, which is what
 *   made the s3 race test conclude "no table".
 */
import { S3Storage } from "./s3.ts";
import { parseS3 } from "./location.ts";
import { sha256Hex } from "../hash.ts";
import { signRequest } from "./sigv4.ts";

/** One signed `PUT If-None-Match: *` of `location`; the HTTP status (no retry, no read-back). */
export async function rawConditionalPut(
  client: S3Storage,
  location: string,
  body: string,
): Promise<number> {
  const { bucket, key } = parseS3(location);
  const url = new URL(`${client.config.endpoint}/${bucket}/${key}`);
  const bytes = new TextEncoder().encode(body);
  const headers = await signRequest({
    method: "PUT",
    url,
    headers: { "content-type": "application/json", "if-none-match": "*" },
    payloadHash: await sha256Hex(bytes),
    region: client.config.region,
    service: "s3",
    credentials: client.config.credentials,
  });
  const res = await fetch(url, { method: "PUT", headers, body: bytes });
  await res.body?.cancel();
  return res.status;
}

/** How the conditional-create rounds went. */
export interface ConditionalReport {
  racers: number;
  rounds: number;
  /** Rounds in which exactly one racer got 200. */
  roundsWithOneWinner: number;
  /** Count of each HTTP status over all racers. */
  statuses: Record<string, number>;
  /** The status of one more conditional PUT of an existing key (412 expected). */
  existingKeyAnswers: number;
}

/** `rounds` times, `racers` concurrent conditional PUTs of a fresh key under `prefix`. */
export async function conditionalCreateRaces(
  client: S3Storage,
  prefix: string,
  racers: number,
  rounds: number,
): Promise<ConditionalReport> {
  const statuses: Record<string, number> = {};
  let roundsWithOneWinner = 0;
  for (let r = 0; r < rounds; r++) {
    const location = `${prefix}/cond-${r}.json`;
    const got = await Promise.all(
      Array.from({ length: racers }, (_, i) => rawConditionalPut(client, location, `{"r":${i}}`)),
    );
    for (const s of got) statuses[s] = (statuses[s] ?? 0) + 1;
    if (got.filter((s) => s === 200).length === 1) roundsWithOneWinner++;
  }
  const existingKeyAnswers = await rawConditionalPut(client, `${prefix}/cond-0.json`, "{}");
  return { racers, rounds, roundsWithOneWinner, statuses, existingKeyAnswers };
}

/** How the listings went. */
export interface ListingReport {
  writers: number;
  listings: number;
  /** Listings that lacked at least one key acknowledged before they began. */
  listingsWithMiss: number;
  /** Acknowledged keys looked for, over all listings. */
  keysChecked: number;
  /** Of those, the ones a listing lacked. */
  keysMissed: number;
  puts: number;
  seconds: number;
}

/**
 * `writers` writers each put-if-absent `keysPerWriter` sequential keys (about 0.5 KB) into a
 * fresh directory under `prefix` while one lister lists it, round after round, until
 * `listings` listings were checked.
 */
export async function listingAfterPut(
  client: S3Storage,
  prefix: string,
  opts: { writers: number; keysPerWriter: number; listings: number },
): Promise<ListingReport> {
  const report = {
    writers: opts.writers,
    listings: 0,
    listingsWithMiss: 0,
    keysChecked: 0,
    keysMissed: 0,
    puts: 0,
    seconds: 0,
  };
  const started = performance.now();
  for (let round = 0; report.listings < opts.listings; round++) {
    const dir = `${prefix}/list-${round}`;
    const acked: string[] = [];
    let writing = opts.writers;
    const writer = async (w: number) => {
      for (let i = 0; i < opts.keysPerWriter; i++) {
        const location = `${dir}/w${w}-${String(i).padStart(8, "0")}.json`;
        await client.putIfAbsent(location, JSON.stringify({ w, i, pad: "x".repeat(512) }));
        acked.push(location);
        report.puts++;
      }
      writing--;
    };
    const lister = async () => {
      while (writing > 0 && report.listings < opts.listings) {
        const expected = [...acked];
        const seen = new Set((await client.list(dir)).map((o) => o.location));
        const missing = expected.filter((k) => !seen.has(k)).length;
        report.listings++;
        report.keysChecked += expected.length;
        if (missing > 0) {
          report.listingsWithMiss++;
          report.keysMissed += missing;
        }
      }
    };
    await Promise.all([lister(), ...Array.from({ length: opts.writers }, (_, w) => writer(w))]);
  }
  report.seconds = Number(((performance.now() - started) / 1000).toFixed(1));
  return report;
}
