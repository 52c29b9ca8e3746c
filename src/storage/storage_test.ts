import assert from "node:assert/strict";
import { join } from "node:path";
import { joinLocation, LocationError, resolveLocation } from "./location.ts";
import { LOCAL_S3, localS3Client, s3ProxyBackend, S3ProxyError } from "./local_s3proxy.ts";
import { listingAfterPut } from "./server_check.ts";
import { S3Storage, StorageError } from "./s3.ts";
import { type Storage, storageFor } from "./storage.ts";
import { removeS3Scratch, s3Scratch, testS3Port } from "./test_s3.ts";

Deno.test("location: s3:// is kept as a URL, other schemes refused, paths resolved", () => {
  assert.equal(resolveLocation("s3://lake/x/"), "s3://lake/x");
  assert.equal(resolveLocation("S3://lake//x/y"), "s3://lake/x/y");
  assert.equal(
    joinLocation("s3://lake/x", "silver", "_delta_log/0.json"),
    "s3://lake/x/silver/_delta_log/0.json",
  );
  assert.equal(resolveLocation("rel/dir"), join(Deno.cwd(), "rel/dir"));
  for (const bad of ["gs://lake/x", "s3a://lake/x", "file:///tmp/x", "http://h/x", "s3:lake"]) {
    assert.throws(() => resolveLocation(bad), LocationError, bad);
  }
  assert.throws(() => resolveLocation("s3://"), LocationError);
  assert.throws(() => resolveLocation("s3://A_B/x"), LocationError);
});

/** The contract both storages keep. */
async function contract(storage: Storage, base: string): Promise<void> {
  const a = joinLocation(base, "d", "a.json");
  assert.equal(await storage.get(a), undefined);
  assert.equal(await storage.head(a), undefined);
  assert.equal(await storage.putIfAbsent(a, '{"x":1}'), true);
  assert.equal(await storage.putIfAbsent(a, '{"x":2}'), false);
  assert.equal(new TextDecoder().decode(await storage.get(a)), '{"x":1}');
  assert.equal((await storage.head(a))?.size, 7);
  await storage.put(joinLocation(base, "d", "b.bin"), new Uint8Array([1, 2, 3]));
  await storage.put(joinLocation(base, "d", "b.bin"), new Uint8Array([4, 5]));
  assert.deepEqual(await storage.get(joinLocation(base, "d", "b.bin")), new Uint8Array([4, 5]));
  await storage.put(joinLocation(base, "d", "sub", "c.json"), "{}");
  const names = (l: { location: string }[]) => l.map((o) => o.location.slice(base.length + 1));
  assert.deepEqual(names(await storage.list(joinLocation(base, "d"))), ["d/a.json", "d/b.bin"]);
  assert.deepEqual(
    names(await storage.list(joinLocation(base, "d"), { recursive: true, details: true })),
    ["d/a.json", "d/b.bin", "d/sub/c.json"],
  );
  assert.deepEqual(names(await storage.list(joinLocation(base, "d"), { startAfter: a })), [
    "d/b.bin",
  ]);
  assert.deepEqual(await storage.list(joinLocation(base, "nothing")), []);
  assert.deepEqual(await storage.listDirectories(joinLocation(base, "d")), ["sub"]);
  assert.deepEqual(await storage.listDirectories(joinLocation(base, "nothing")), []);
  assert.equal(await storage.delete(a), true);
  assert.equal(await storage.get(a), undefined);
}

Deno.test("storage: local contract", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await contract(storageFor(dir), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("storage: S3 contract against S3Proxy", async () => {
  const base = await s3Scratch("contract");
  try {
    await contract(storageFor(base), base);
  } finally {
    await removeS3Scratch(base);
  }
});

Deno.test("storage: 16 concurrent put-if-absent, exactly one wins (local and S3)", async () => {
  const dir = await Deno.makeTempDir();
  const base = await s3Scratch("race");
  try {
    for (const root of [dir, base]) {
      const key = joinLocation(root, "_delta_log", "00000000000000000001.json");
      const storage = storageFor(root);
      const wins = await Promise.all(
        Array.from({ length: 16 }, (_, i) => storage.putIfAbsent(key, `{"writer":${i}}`)),
      );
      assert.equal(wins.filter(Boolean).length, 1, root);
      const winner = wins.indexOf(true);
      assert.equal(new TextDecoder().decode(await storage.get(key)), `{"writer":${winner}}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await removeS3Scratch(base);
  }
});

Deno.test("storage: the S3 server lists every acknowledged PUT while three writers write", async () => {
  const base = await s3Scratch("listing");
  try {
    const client = localS3Client(testS3Port(), 5000);
    const r = await listingAfterPut(client, base, { writers: 3, keysPerWriter: 40, listings: 60 });
    assert.equal(
      r.keysMissed,
      0,
      `${r.listingsWithMiss} of ${r.listings} listings at ${client.config.endpoint} lacked keys ` +
        "whose PUT was acknowledged: this server lists inconsistently (S3Proxy 4.0.0 does, 4.1.0 " +
        "does not; docs/object-storage.md)",
    );
  } finally {
    await removeS3Scratch(base);
  }
});

Deno.test("storage: S3_LOCAL_BACKEND names an S3Proxy provider or says which exist", () => {
  assert.equal(s3ProxyBackend(undefined), "filesystem-nio2");
  assert.equal(s3ProxyBackend("transient-nio2"), "transient-nio2");
  assert.throws(
    () => s3ProxyBackend("filesystem"),
    (e: Error) => e instanceof S3ProxyError && /filesystem-nio2 or transient-nio2/.test(e.message),
  );
});

/**
 * A TCP relay to the S3 server that swallows the first `drop` responses (the request reached
 * the server, the answer never comes back): the outcome is unknown to the client.
 */
function droppingRelay(port: number, drop: number): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let dropped = 0;
  (async () => {
    for await (const client of listener) {
      (async () => {
        const server = await Deno.connect({ hostname: "127.0.0.1", port });
        const swallow = dropped++ < drop;
        client.readable.pipeTo(server.writable).catch(() => {});
        if (swallow) {
          // Wait for the server's answer (the PUT happened), then hang up on the client.
          const reader = server.readable.getReader();
          await reader.read().catch(() => {});
          try {
            client.close();
          } catch { /* closed */ }
          try {
            server.close();
          } catch { /* closed */ }
        } else {
          server.readable.pipeTo(client.writable).catch(() => {});
        }
      })();
    }
  })().catch(() => {});
  return { port: (listener.addr as Deno.NetAddr).port, close: () => listener.close() };
}

Deno.test("storage: a put-if-absent whose answer is lost reads back and finds it was ours", async () => {
  const base = await s3Scratch("unknown");
  const relay = droppingRelay(testS3Port(), 1);
  try {
    const viaRelay = new S3Storage({
      ...localS3Client(testS3Port()).config,
      endpoint: `http://127.0.0.1:${relay.port}`,
      retryMs: 5000,
    });
    const key = joinLocation(base, "_delta_log", "00000000000000000000.json");
    assert.equal(await viaRelay.putIfAbsent(key, '{"ours":true}'), true);
    // Someone else's bytes at the key: the unknown outcome is then a loss.
    const relay2 = droppingRelay(testS3Port(), 1);
    try {
      const other = new S3Storage({
        ...viaRelay.config,
        endpoint: `http://127.0.0.1:${relay2.port}`,
      });
      assert.equal(await other.putIfAbsent(key, '{"ours":false}'), false);
    } finally {
      relay2.close();
    }
  } finally {
    relay.close();
    await removeS3Scratch(base);
  }
});

Deno.test("storage: wrong credential, missing bucket, unreachable endpoint: one clear error each", async () => {
  await s3Scratch();
  const good = localS3Client(testS3Port()).config;
  const wrong = new S3Storage({
    ...good,
    credentials: { ...good.credentials, secretAccessKey: "not-the-secret" },
  });
  await assert.rejects(
    () => wrong.putIfAbsent(`s3://${LOCAL_S3.bucket}/x/y.json`, "{}"),
    (err: Error) =>
      err instanceof StorageError && /refused.*AWS_SECRET_ACCESS_KEY/s.test(err.message),
  );
  const s3 = new S3Storage(good);
  await assert.rejects(
    () => s3.get("s3://no-such-bucket-here/x/y.json"),
    (err: Error) =>
      err instanceof StorageError && /no-such-bucket-here.*does not exist/.test(err.message),
  );
  await assert.rejects(
    () => s3.head("s3://no-such-bucket-here/x/y.json"),
    (err: Error) => err instanceof StorageError && /does not exist/.test(err.message),
  );
  const gone = new S3Storage({ ...good, endpoint: "http://127.0.0.1:1", retryMs: 300 });
  await assert.rejects(
    () => gone.putIfAbsent(`s3://${LOCAL_S3.bucket}/x/y.json`, "{}"),
    (err: Error) => err instanceof StorageError && /127\.0\.0\.1:1/.test(err.message),
  );
  await assert.rejects(
    () => gone.list(`s3://${LOCAL_S3.bucket}/x`),
    (err: Error) => err instanceof StorageError && /cannot reach the S3 endpoint/.test(err.message),
  );
});
