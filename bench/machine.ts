/**
 * What a benchmark ran on: CPU model, cores, memory, load, and the versions of Deno, Kafka and
 * DuckDB — figures mean nothing without them.
 *
 * Read through node:os / Deno.systemMemoryInfo (permission `--allow-sys=cpus,...`), because
 * Deno only lets `--allow-all` read /proc directly; node:os reads /proc/cpuinfo for us, and the
 * CPU time the hypervisor steals (23–35 % at times on a shared VM, during a run whose figures were
 * 2–3× lower than the same code's a few days before) is read from /proc/stat through `cat`.
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

/** Cumulative CPU time of the machine, in clock ticks (the first line of /proc/stat). */
export interface CpuTicks {
  total: number;
  /** Ticks the hypervisor gave this VM's cores to someone else. */
  steal: number;
}

/**
 * CPU ticks so far, or null where /proc/stat is unreadable (not Linux). Read through `cat`:
 * Deno lets only `--allow-all` read /proc, and a bench must not need that.
 */
export async function cpuTicks(): Promise<CpuTicks | null> {
  try {
    const out = await new Deno.Command("cat", { args: ["/proc/stat"], stderr: "null" }).output();
    const line = new TextDecoder().decode(out.stdout).split("\n")[0] ?? "";
    if (!out.success || !line.startsWith("cpu ")) return null;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
  } catch {
    return null;
  }
}

/** Share of the CPU time between two readings that was stolen, in % (null if unknown). */
export function stealPercent(from: CpuTicks | null, to: CpuTicks | null): number | null {
  if (!from || !to || to.total <= from.total) return null;
  return Number(((100 * (to.steal - from.steal)) / (to.total - from.total)).toFixed(1));
}

/** What a reader of the figures must know about the machine's load during the run. */
export function loadNotes(machine: MachineInfo, steal: number | null): string[] {
  const notes: string[] = [];
  if (steal !== null && steal >= 5) {
    notes.push(
      `the hypervisor took ${steal} % of the CPU time during the run (steal): every figure ` +
        `that depends on CPU is lower than this machine's cores would give alone`,
    );
  }
  if (machine.loadAverageAtStart[0] > machine.cores) {
    notes.push(
      `the machine was busy: load average ${
        machine.loadAverageAtStart.join(" / ")
      } at start on ${machine.cores} cores (shared with other work)`,
    );
  }
  return notes;
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
