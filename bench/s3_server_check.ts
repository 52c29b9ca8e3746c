/**
 * Compares local S3 servers on what the Delta kernel leans on (issue 25,
 * docs/object-storage.md): concurrent conditional creates of one key, and listings taken while
 * three writers PUT (does every acknowledged key appear?). See src/storage/server_check.ts.
 *
 * Usage: deno run --allow-net=127.0.0.1 --allow-read --allow-sys=loadavg \
 *          bench/s3_server_check.ts --port 29000 [--listings 2000] [--writers 3] [--keys 100] \
 *          [--racers 16] [--rounds 8]
 * Talks to the server on 127.0.0.1:port as the local development identity (local_s3proxy.ts),
 * makes the bucket, prints one JSON line, and deletes what it wrote.
 */
import { parseArgs } from "node:util";
import { LOCAL_S3, localS3Client } from "../src/storage/local_s3proxy.ts";
import { conditionalCreateRaces, listingAfterPut } from "../src/storage/server_check.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    listings: { type: "string", default: "2000" },
    writers: { type: "string", default: "3" },
    keys: { type: "string", default: "100" },
    racers: { type: "string", default: "16" },
    rounds: { type: "string", default: "8" },
  },
});
if (!values.port) {
  console.error("--port is required (the S3 server on 127.0.0.1)");
  Deno.exit(2);
}
const port = Number(values.port);
const client = localS3Client(port, 10_000);
await client.createBucket(LOCAL_S3.bucket);
const prefix = `s3://${LOCAL_S3.bucket}/server-check-${crypto.randomUUID().slice(0, 8)}`;
try {
  const loadBefore = Deno.loadavg();
  const conditional = await conditionalCreateRaces(
    client,
    prefix,
    Number(values.racers),
    Number(values.rounds),
  );
  const listing = await listingAfterPut(client, prefix, {
    writers: Number(values.writers),
    keysPerWriter: Number(values.keys),
    listings: Number(values.listings),
  });
  console.log(JSON.stringify({
    endpoint: client.config.endpoint,
    loadavg: { before: loadBefore, after: Deno.loadavg() },
    conditional,
    listing,
  }));
} finally {
  const objects = await client.list(prefix, { recursive: true });
  for (let i = 0; i < objects.length; i += 32) {
    await Promise.all(objects.slice(i, i + 32).map((o) => client.delete(o.location)));
  }
}
