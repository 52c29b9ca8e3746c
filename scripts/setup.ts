/**
 * `deno task setup`: fetch once what the tasks need from outside — DuckDB's delta extension and
 * the Kafka broker jars, the S3Proxy jar — so later runs work offline.
 */
import { runMain } from "../src/config.ts";
import { ensureJars } from "../src/kafka/local_broker.ts";
import { ensureDeltaExtension, ensureExtension } from "../src/duckdb/extension.ts";
import { ensureS3ProxyJar } from "../src/storage/local_s3proxy.ts";

await runMain(async () => {
  console.log(`delta extension: ${await ensureDeltaExtension()}`);
  console.log(`httpfs extension: ${await ensureExtension("httpfs")}`);
  try {
    console.log(`kafka jars:      ${await ensureJars()}`);
  } catch (err) {
    console.error(`kafka jars skipped: ${(err as Error).message}`);
  }
  try {
    console.log(`s3proxy jar:     ${await ensureS3ProxyJar()}`);
  } catch (err) {
    console.error(`s3proxy jar skipped: ${(err as Error).message}`);
  }
});
