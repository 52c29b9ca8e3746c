/**
 * Child process for multi-process Delta tests.
 *
 *   append_worker.ts <table> <worker id> <commits> append
 *     appends <commits> small batches, one commit each (txn appId "worker-<id>"), then prints
 *     {"versions": [...], "paths": [...]} on stdout.
 *   append_worker.ts <table> <worker id> 1 crash
 *     writes data files, prints {"paths": [...]} and then waits to be SIGKILLed before committing.
 */
import { openDuckDB } from "../../duckdb/engine.ts";
import { appendQuery, loadSnapshot, writeDataFiles } from "../table.ts";
import { sensorRowsSql } from "./common.ts";

const [table, idArg, commitsArg, mode] = Deno.args;
const id = Number(idArg);
const db = await openDuckDB({ delta: false, threads: 1 });
if (mode === "crash") {
  const snap = await loadSnapshot(table);
  const adds = await writeDataFiles(db.conn, snap, sensorRowsSql(100, 7_000_000));
  console.log(JSON.stringify({ paths: adds.map((a) => a.path) }));
  // Killed here, before any commit. A timer keeps the event loop alive: a bare never-settling
  // promise lets Deno exit on its own ("top-level await promise never resolved") before a slow
  // parent's SIGKILL arrives.
  setInterval(() => {}, 60_000);
  await new Promise(() => {});
}
const versions: number[] = [];
const paths: string[] = [];
for (let k = 0; k < Number(commitsArg); k++) {
  const { version, adds } = await appendQuery(
    db.conn,
    table,
    sensorRowsSql(5, id * 1_000_000 + k * 5),
    { txns: [{ appId: `worker-${id}`, version: k }], maxRetries: 200 },
  );
  versions.push(version);
  paths.push(...adds.map((a) => a.path));
}
db.close();
console.log(JSON.stringify({ versions, paths }));
