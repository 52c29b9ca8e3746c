/**
 * The lakehouse on `s3://` next to local: append throughput and commit latency to a table on a
 * throw-away S3Proxy on loopback (started and stopped here) and to a local one, run after run.
 * S3Proxy stores objects on the same local disk, so the difference is the cost of the S3 path
 * (HTTP, SigV4, the conditional PUT, re-reads) — a real object store adds its network latency
 * (typically 10–30 ms per request for AWS S3 in-region).
 */
import { benchAppend, benchCommitLatency } from "./delta_bench.ts";
import { figure } from "./stats.ts";
import { LOCAL_S3, localS3Env, startLocalS3, stopLocalS3 } from "../src/storage/local_s3proxy.ts";
import { resetStorageCache } from "../src/storage/storage.ts";

/** Sizes of one s3 scenario. */
export interface S3BenchSizes {
  runs: number;
  appendRows: number;
  commits: number;
}

/** Runs the scenario; returns its figures (local and s3 side by side). */
export async function benchS3(sizes: S3BenchSizes, log: (line: string) => void) {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const stateDir = await Deno.makeTempDir({ prefix: "bench-s3proxy-" });
  const saved = Object.fromEntries(
    Object.keys(localS3Env(port)).map((k) => [k, Deno.env.get(k)]),
  );
  await startLocalS3({ port, stateDir, log });
  for (const [k, v] of Object.entries(localS3Env(port))) Deno.env.set(k, v);
  resetStorageCache();
  const base = `s3://${LOCAL_S3.bucket}/bench`;
  try {
    const append = { local: [] as number[], s3: [] as number[] };
    const commit = { local: [] as number[], s3: [] as number[] };
    for (let i = 0; i < sizes.runs; i++) {
      append.local.push(await benchAppend(sizes.appendRows));
      append.s3.push(await benchAppend(sizes.appendRows, base));
      commit.local.push(await benchCommitLatency(sizes.commits));
      commit.s3.push(await benchCommitLatency(sizes.commits, base));
      log(
        `  run ${i + 1}: append ${Math.round(append.local[i])} vs ${
          Math.round(append.s3[i])
        } rows/s, commit ${commit.local[i].toFixed(1)} vs ${
          commit.s3[i].toFixed(1)
        } ms (local vs s3)`,
      );
    }
    return {
      server: "S3Proxy 4.0.0 (filesystem-nio2) on 127.0.0.1",
      appendRows: sizes.appendRows,
      appendRowsPerSecLocal: figure(append.local, "rows/s", 0),
      appendRowsPerSecS3: figure(append.s3, "rows/s", 0),
      commits: sizes.commits,
      commitLatencyMsLocal: figure(commit.local, "ms"),
      commitLatencyMsS3: figure(commit.s3, "ms"),
    };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
    resetStorageCache();
    await stopLocalS3({ port, stateDir });
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const commits = Number(Deno.args[0] ?? 50);
  console.log(JSON.stringify(
    await benchS3({ runs: 1, appendRows: 20_000, commits }, (l) => console.error(l)),
    null,
    2,
  ));
}
