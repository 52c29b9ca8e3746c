/**
 * `deno task setup`: fetch once what the tasks need from outside — DuckDB's delta extension and
 * the Kafka broker jars, the S3Proxy jar — so later runs work offline.
 */
import { parseCli, runMain, UsageError } from "../src/config.ts";
import { ensureJars } from "../src/kafka/local_broker.ts";
import { ensureDeltaExtension, ensureExtension } from "../src/duckdb/extension.ts";
import { ensureS3ProxyJar } from "../src/storage/local_s3proxy.ts";

const USAGE = "Usage: deno task setup\n\n" +
  "Fetches into .cache/: DuckDB's delta and httpfs extensions, the Kafka broker jars (mvn) and\n" +
  "the S3Proxy jar. Already fetched pieces are kept. (deno task test also fetches delta-rs into\n" +
  ".cache/deltalake-venv.)";

await runMain(async () => {
  const { positionals } = parseCli(Deno.args, {}, USAGE);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
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
