/**
 * Test support: the local S3Proxy the suite runs against (`deno task test` starts one when
 * none answers; S3_LOCAL_PORT moves it), its AWS_* environment, and unique scratch prefixes.
 */
import { joinLocation } from "./location.ts";
import { LOCAL_S3, localS3Env, s3Answers, startLocalS3 } from "./local_s3proxy.ts";
import { resetStorageCache, storageFor } from "./storage.ts";

/** Port of the test S3 server. */
export function testS3Port(): number {
  return Number(Deno.env.get("S3_LOCAL_PORT") ?? LOCAL_S3.port);
}

let ready: Promise<void> | undefined;

/**
 * Points this process's AWS_* variables at the local S3 server (started here if needed, for a
 * lone `deno test` of one file) and returns a fresh `s3://lakehouse/test-<uuid>` prefix.
 */
export async function s3Scratch(name = "t"): Promise<string> {
  ready ??= (async () => {
    const port = testS3Port();
    if (!await s3Answers(port)) await startLocalS3({ port, log: () => {} });
    for (const [k, v] of Object.entries(localS3Env(port))) Deno.env.set(k, v);
    resetStorageCache();
  })();
  await ready;
  return `s3://${LOCAL_S3.bucket}/test-${name}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Deletes everything under an `s3://` scratch prefix. */
export async function removeS3Scratch(location: string): Promise<void> {
  const storage = storageFor(location);
  const objects = await storage.list(location, { recursive: true });
  await Promise.all(objects.map((o) => storage.delete(o.location)));
}

export { joinLocation };
