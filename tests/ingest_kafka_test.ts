/**
 * Kafka → bronze/silver/quarantine through the real broker and the real `consume` task:
 * exact counts, reruns, SIGKILL mid-stream, two consumers in one group, auto-compaction.
 */
import { testBrokers } from "../src/kafka/test_broker.ts";
import assert from "node:assert/strict";
import { brokerList } from "../src/config.ts";
import {
  bronzeVersion,
  makeMix,
  type Mix,
  produceMix,
  type TableCounts,
  tableCounts,
  totalRejects,
} from "../src/chaos/mix.ts";
import { consumeArgs, runTask, spawnTask } from "./helpers/tasks.ts";
import { join } from "node:path";
import { loadSnapshot } from "../src/delta/table.ts";

const BROKERS = (await testBrokers()).join(",");

function assertExact(c: TableCounts, mix: Mix) {
  const total = mix.messages.length;
  assert.equal(c.bronze, total, "bronze holds every message");
  assert.equal(c.bronzeDistinctCoords, total, "bronze holds each (topic, partition, offset) once");
  assert.equal(c.silver, mix.valid, "silver holds each valid reading");
  assert.equal(c.silverDistinctKeys, mix.valid, "silver holds each reading once");
  assert.equal(c.quarantine, totalRejects(mix), "quarantine holds each reject");
  assert.equal(c.quarantineDistinctCoords, totalRejects(mix), "quarantine holds each reject once");
  assert.deepEqual(c.reasons, mix.rejects);
  assert.equal(c.bronzeDuplicates, mix.duplicates);
  // The accounting invariant.
  assert.equal(c.bronze, c.silver + c.quarantine + c.bronzeDuplicates);
}

async function consume(topic: string, lakehouse: string, group: string, extra: string[] = []) {
  const r = await runTask(
    "consume",
    consumeArgs({ brokers: BROKERS, topic, lakehouse, group, untilCaughtUp: true }, extra),
  );
  assert.equal(r.code, 0, `consume failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

Deno.test("consume: exact counts per table, and a rerun (even under a new group) adds nothing", async () => {
  const topic = `ingest-exact-${crypto.randomUUID().slice(0, 8)}`;
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-exact-" });
  const mix = makeMix(20_000);
  await produceMix(brokerList(BROKERS), topic, mix);
  const first = await consume(topic, lakehouse, `g-${topic}`);
  assert.equal(first.records, mix.messages.length);
  assertExact(await tableCounts(lakehouse), mix);

  const again = await consume(topic, lakehouse, `g2-${topic}`);
  assert.equal(again.rows.bronze + again.rows.silver + again.rows.quarantine, 0);
  assertExact(await tableCounts(lakehouse), mix);
  await Deno.remove(lakehouse, { recursive: true });
});

Deno.test("consume: a backlog drains in --backlog-rows batches, exactly", async () => {
  const topic = `ingest-backlog-${crypto.randomUUID().slice(0, 8)}`;
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-backlog-" });
  const mix = makeMix(30_000);
  await produceMix(brokerList(BROKERS), topic, mix);
  const r = await consume(topic, lakehouse, `g-${topic}`, [
    "--max-rows",
    "2000",
    "--backlog-rows",
    "20000",
  ]);
  assertExact(await tableCounts(lakehouse), mix);
  // 15 flushes at --max-rows; the batches grew while the consumer was behind.
  assert.ok(r.flushes <= 6, `${r.flushes} flushes for 30,000 messages`);
  await Deno.remove(lakehouse, { recursive: true });
});

Deno.test("consume: SIGKILL mid-stream three times, then catch up: still exact", async () => {
  const topic = `ingest-kill-${crypto.randomUUID().slice(0, 8)}`;
  const lakehouse = await Deno.makeTempDir({ prefix: "lh-kill-" });
  const mix = makeMix(120_000, 60);
  await produceMix(brokerList(BROKERS), topic, mix);
  const group = `g-${topic}`;
  for (let kill = 0; kill < 3; kill++) {
    const before = await bronzeVersion(lakehouse);
    const child = spawnTask(
      "consume",
      consumeArgs({ brokers: BROKERS, topic, lakehouse, group, sessionTimeoutMs: 6000 }, [
        "--max-rows",
        "7000",
        "--backlog-rows",
        "0",
      ]),
    );
    // Kill once it has committed something new, at a varying moment after.
    const deadline = Date.now() + 60_000;
    while (await bronzeVersion(lakehouse) < before + 1 + kill && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 37 * kill));
    child.kill("SIGKILL");
    await child.output();
  }
  const partial = await tableCounts(lakehouse);
  assert.ok(partial.bronze < mix.messages.length, "the kills happened mid-stream");
  await consume(topic, lakehouse, group, ["--session-timeout", "6000"]);
  assertExact(await tableCounts(lakehouse), mix);
  await Deno.remove(lakehouse, { recursive: true });
});

/** Two consumers of one group over a fresh 4-partition topic of `n` messages; asserts exact. */
async function twoConsumers(name: string, n: number, flags: string[]) {
  const topic = `ingest-${name}-${crypto.randomUUID().slice(0, 8)}`;
  const lakehouse = await Deno.makeTempDir({ prefix: `lh-${name}-` });
  const mix = makeMix(n, 60);
  await produceMix(brokerList(BROKERS), topic, mix, 4);
  const runs = await Promise.all([0, 1].map(() => consume(topic, lakehouse, `g-${topic}`, flags)));
  assertExact(await tableCounts(lakehouse), mix);
  return { runs, lakehouse, mix };
}

Deno.test("consume: two consumers in one group share partitions; still exact", async () => {
  const { runs, lakehouse, mix } = await twoConsumers("group", 60_000, [
    "--max-rows",
    "5000",
    "--backlog-rows",
    "0",
  ]);
  assert.ok(runs[0].records + runs[1].records >= mix.messages.length);
  await Deno.remove(lakehouse, { recursive: true });
});

Deno.test("consume: auto-compaction between flushes, two consumers racing for it: still exact, few files", async () => {
  // Every flush is a compaction point; both members compact the same tables, so some passes
  // lose the race (and are skipped) while the tables stay exact.
  const { runs, lakehouse } = await twoConsumers("compact", 40_000, [
    "--max-rows",
    "1000",
    "--backlog-rows",
    "0",
    "--compact-interval",
    "0.001",
    "--compact-min-files",
    "4",
  ]);
  const flushes = runs.reduce((n, r) => n + r.flushes, 0);
  assert.ok(runs.reduce((n, r) => n + r.compactions, 0) > 0, "compactions committed");
  const silver = await loadSnapshot(join(lakehouse, "silver"));
  const partitions = new Set(silver.files.map((f) => JSON.stringify(f.partitionValues))).size;
  assert.ok(
    silver.files.length < flushes,
    `silver has ${silver.files.length} files after ${flushes} flushes (${partitions} partitions)`,
  );
  await Deno.remove(lakehouse, { recursive: true });
});
