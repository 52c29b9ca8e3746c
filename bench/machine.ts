/**
 * What a benchmark ran on: CPU model, cores, memory, load, and the versions of Deno, Kafka and
 * DuckDB — figures mean nothing without them.
 *
 * Read through node:os / Deno.systemMemoryInfo (permission `--allow-sys=cpus,...`), because
 * Deno only lets `--allow-all` read /proc directly; node:os reads /proc/cpuinfo for us.
 *
 * @module
 */
import os from "node:os";
import type { Kafka } from "kafkajs";
import { DuckDBInstance } from "@duckdb/node-api";

/** The machine. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  os: string;
  /** 1/5/15-minute load averages when the run started (others share this machine). */
  loadAverageAtStart: number[];
}

/** Versions of what was measured. */
export interface Versions {
  deno: string;
  v8: string;
  typescript: string;
  /** Kafka broker version, and where it was read from. */
  kafka: string;
  kafkaSource: string;
  duckdb: string;
  kafkajs: string;
}

/** CPU, cores, memory and current load. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model?.trim() || "unknown",
    cores: cpus.length || navigator.hardwareConcurrency,
    memoryBytes: Deno.systemMemoryInfo().total,
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    loadAverageAtStart: Deno.loadavg().map((x) => Number(x.toFixed(2))),
  };
}

/** DuckDB's `SELECT version()`. */
export async function duckdbVersion(): Promise<string> {
  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  try {
    const rows = await (await conn.run("SELECT version() AS v")).getRowObjectsJS();
    return String(rows[0].v);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** The kafkajs version pinned in deno.json's import map. */
export function kafkajsVersion(): string {
  const url = import.meta.resolve("kafkajs");
  return /kafkajs@([\d.]+)/.exec(url)?.[1] ?? url;
}

/**
 * The broker's Kafka version. The version of the jars of the process that listens is exact
 * (`.../kafka/<version>/lib/*` or `kafka_2.13-<version>.jar` on its command line, read with
 * `ps`); without such a process (a remote broker) we ask the admin API for the broker's
 * `inter.broker.protocol.version`, which names the release line (e.g. "3.9-IV0").
 */
export async function kafkaVersion(
  kafka: Kafka,
  brokerPid: number | null,
): Promise<{ version: string; source: string }> {
  if (brokerPid !== null) {
    try {
      const out = await new Deno.Command("ps", {
        args: ["-o", "args=", "-p", String(brokerPid)],
        stdout: "piped",
        stderr: "null",
      }).output();
      const args = new TextDecoder().decode(out.stdout);
      const m = /kafka_2\.1\d-([\d.]+)\.jar/.exec(args) ?? /kafka\/([\d.]+)\/lib/.exec(args);
      if (m) return { version: m[1], source: `broker jars (pid ${brokerPid})` };
    } catch { /* fall back to the admin API */ }
  }
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    const id = String(cluster.brokers[0]?.nodeId ?? cluster.controller ?? 1);
    const res = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{
        type: 4, /* BROKER */
        name: id,
        configNames: ["inter.broker.protocol.version"],
      }],
    });
    const v = res.resources[0]?.configEntries[0]?.configValue;
    return { version: v ?? "unknown", source: "admin API (inter.broker.protocol.version)" };
  } catch (err) {
    return { version: "unknown", source: `admin API failed: ${(err as Error).message}` };
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Deno, V8 and TypeScript versions of this process. */
export function denoVersions(): Pick<Versions, "deno" | "v8" | "typescript"> {
  return { deno: Deno.version.deno, v8: Deno.version.v8, typescript: Deno.version.typescript };
}
