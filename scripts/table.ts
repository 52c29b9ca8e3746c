/**
 * `deno task table <list|info|history|optimize|vacuum|checkpoint> [TABLE]` — inspect and
 * maintain the lakehouse's Delta tables. TABLE is a name under `--lakehouse` (`silver`,
 * `gold_alarms`, `gold/alarms`) or a table's path. Results on stdout (a table for people, or
 * JSON with --format json), progress on stderr. All logic lives in src/delta.
 */
import {
  LAKEHOUSE_OPTION,
  numberOption,
  parseCli,
  rejectFlags,
  resolveLakehouse,
  runMain,
  UsageError,
} from "../src/config.ts";
import { history, loadSnapshot, optimize, vacuum, writeCheckpoint } from "../src/delta/table.ts";
import { parseStats } from "../src/delta/actions.ts";
import { listLog, readLastCheckpoint } from "../src/delta/log.ts";
import type { Snapshot } from "../src/delta/snapshot.ts";
import {
  type Cell,
  formatResult,
  humanBytes,
  humanNumber,
  isoFromMicros,
} from "../src/query/format.ts";
import { findLakehouseTable, listLakehouseTables } from "../src/query/views.ts";

export const USAGE =
  "Usage: deno task table <list|info|history|optimize|vacuum|checkpoint> [TABLE] [options]\n" +
  "  TABLE: a name under --lakehouse (silver, gold_alarms, …) or a Delta table's path";

export const SPECS = {
  ...LAKEHOUSE_OPTION,
  format: {
    type: "string",
    env: "TABLE_FORMAT",
    default: "table",
    description: "Output format: table or json",
  },
  version: { type: "string", description: "info: the table as of this version (time travel)" },
  limit: { type: "string", description: "history: only the newest N entries" },
  "dry-run": {
    type: "boolean",
    description: "optimize/vacuum/checkpoint: say what would be done, change nothing",
  },
  "retention-hours": {
    type: "string",
    env: "TABLE_RETENTION_HOURS",
    default: "168",
    description: "vacuum: keep unreferenced files younger than this",
  },
  force: { type: "boolean", description: "vacuum: allow a retention under 1 hour" },
  "target-size": {
    type: "string",
    env: "TABLE_TARGET_SIZE",
    description: "optimize: target file size in bytes (default the table's, else 128 MiB)",
  },
} as const;

/** The flags each verb reads; any other given on the command line is an error. */
const VERB_FLAGS: Record<string, readonly string[]> = {
  list: ["lakehouse", "format"],
  info: ["lakehouse", "format", "version"],
  history: ["lakehouse", "format", "limit"],
  optimize: ["lakehouse", "format", "target-size", "dry-run"],
  vacuum: ["lakehouse", "format", "retention-hours", "force", "dry-run"],
  checkpoint: ["lakehouse", "format", "dry-run"],
};

async function isTablePath(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(`${path}/_delta_log`)).isDirectory;
  } catch {
    return false;
  }
}

/** A table argument: a Delta table's path as given, else a name under the lakehouse. */
async function tablePath(arg: string, lakehouse: string): Promise<string> {
  if (await isTablePath(arg)) return arg;
  return (await findLakehouseTable(await resolveLakehouse(lakehouse), arg)).path;
}

function summary(snap: Snapshot) {
  return {
    rows: snap.files.reduce((s, f) => s + (parseStats(f)?.numRecords ?? 0), 0),
    bytes: snap.files.reduce((s, f) => s + f.size, 0),
  };
}

async function main(): Promise<void> {
  const { options, positionals, given } = parseCli(Deno.args, SPECS, USAGE);
  const [command, arg] = positionals;
  const allowed = VERB_FLAGS[command ?? ""];
  if (!allowed) {
    throw new UsageError(
      `${command ? `unknown command "${command}"` : "expected a command"}\n\n${USAGE}`,
    );
  }
  rejectFlags(given, command, allowed, USAGE);
  const wantsTable = command !== "list";
  if (positionals.length > (wantsTable ? 2 : 1) || (wantsTable && !arg)) {
    throw new UsageError(
      `${command} takes ${wantsTable ? "one table (a name or a path)" : "no argument"}\n\n${USAGE}`,
    );
  }
  // "text" is the name the human format had before.
  if (!["table", "text", "json"].includes(options.format)) {
    throw new UsageError(`--format must be table or json, got "${options.format}"`);
  }
  const json = options.format === "json";
  const out = (value: unknown, text: string) =>
    console.log(json ? JSON.stringify(value, null, 2) : text);
  const grid = (columns: string[], types: string[], rows: Cell[][]) =>
    formatResult({ columns, types, rows }, "table", { maxRows: 0 });
  const progress = (m: string) => console.error(m);
  const dryRun = options["dry-run"];

  if (command === "list") {
    const lakehouse = await resolveLakehouse(options.lakehouse);
    const rows = [];
    for (const t of await listLakehouseTables(lakehouse)) {
      const snap = await loadSnapshot(t.path, { tombstones: false });
      rows.push({
        table: t.view,
        path: t.path,
        version: snap.version,
        lastCommit: new Date(snap.commitTimestamp).toISOString(),
        files: snap.files.length,
        ...summary(snap),
      });
    }
    if (!json && rows.length === 0) console.error(`no tables under ${lakehouse} yet`);
    out(
      rows,
      grid(
        ["table", "version", "last_commit", "files", "size", "rows", "path"],
        ["VARCHAR", "BIGINT", "VARCHAR", "BIGINT", "VARCHAR", "BIGINT", "VARCHAR"],
        rows.map((r) => [
          r.table,
          r.version,
          r.lastCommit,
          r.files,
          humanBytes(r.bytes),
          r.rows,
          r.path,
        ]),
      ),
    );
    return;
  }

  const path = await tablePath(arg, options.lakehouse);
  switch (command) {
    case "info": {
      const version = options.version
        ? numberOption("version", options.version, { min: 0, integer: true })
        : undefined;
      const snap = await loadSnapshot(path, { version });
      const { rows, bytes } = summary(snap);
      const partitions = new Set(
        snap.files.map((f) =>
          JSON.stringify(snap.partitionColumns.map((c) => f.partitionValues[c]))
        ),
      );
      const last = await readLastCheckpoint(path);
      const info = {
        path: snap.path,
        version: snap.version,
        committedAt: new Date(snap.commitTimestamp).toISOString(),
        id: snap.metadata.id,
        name: snap.metadata.name ?? null,
        schema: snap.schema.fields,
        partitionColumns: snap.partitionColumns,
        properties: snap.properties,
        protocol: snap.protocol,
        files: snap.files.length,
        bytes,
        rows,
        partitions: partitions.size,
        lastCheckpoint: last?.version ?? null,
        txns: Object.fromEntries([...snap.txns].map(([k, v]) => [k, v.version])),
      };
      out(
        info,
        [
          `table       ${info.path}`,
          `version     ${info.version} (committed ${info.committedAt})`,
          `schema      ${
            snap.schema.fields.map((f) => `${f.name} ${f.type}${f.nullable ? "" : " not null"}`)
              .join(", ")
          }`,
          `partitions  by [${snap.partitionColumns.join(", ")}]: ${info.partitions}`,
          `files       ${info.files} (${humanBytes(bytes)}), ${humanNumber(rows)} rows`,
          `checkpoint  ${info.lastCheckpoint ?? "none"}`,
          `properties  ${JSON.stringify(info.properties)}`,
          `txns        ${snap.txns.size}`,
          ...[...snap.txns].map(([k, v]) => `  ${k} = ${v.version}`),
        ].join("\n"),
      );
      break;
    }
    case "history": {
      const limit = options.limit
        ? numberOption("limit", options.limit, { min: 1, integer: true })
        : undefined;
      const entries = await history(path, { limit });
      out(
        entries,
        grid(
          ["version", "committed", "operation", "metrics"],
          ["BIGINT", "VARCHAR", "VARCHAR", "VARCHAR"],
          entries.map((e) => [
            e.version,
            isoFromMicros(BigInt(e.timestamp) * 1000n),
            e.operation ?? "?",
            Object.entries(e.operationMetrics ?? {}).map(([k, v]) => `${k}=${v}`).join(" "),
          ]),
        ),
      );
      break;
    }
    case "optimize": {
      const targetSize = options["target-size"]
        ? numberOption("target-size", options["target-size"], { min: 1, integer: true })
        : undefined;
      const r = await optimize(path, { targetSize, dryRun, onProgress: progress });
      const what = `${r.filesRemoved} files (${
        humanBytes(r.bytesRemoved)
      }) in ${r.partitionsOptimized} partitions`;
      out(
        r,
        r.version !== undefined
          ? `version ${r.version}: compacted ${what} into ${r.filesAdded} files (${
            humanBytes(r.bytesAdded)
          })`
          : r.filesRemoved === 0
          ? "nothing to compact"
          : `would compact ${what}`,
      );
      break;
    }
    case "vacuum": {
      const retentionHours = numberOption("retention-hours", options["retention-hours"], {
        min: 0,
      });
      const r = await vacuum(path, { retentionHours, force: options.force, dryRun });
      out(
        r,
        [
          ...r.files,
          `${r.dryRun ? "would delete" : "deleted"} ${r.files.length} files (${
            humanBytes(r.bytes)
          })`,
        ].join("\n"),
      );
      break;
    }
    case "checkpoint": {
      if (dryRun) {
        const { commits, checkpoints } = await listLog(path);
        const version = Math.max(commits.at(-1) ?? -1, checkpoints.at(-1) ?? -1);
        const exists = checkpoints.includes(version);
        const plan = { version, exists, dryRun: true };
        out(
          plan,
          exists
            ? `a checkpoint of version ${version} already exists: nothing to write`
            : `would write the checkpoint of version ${version}`,
        );
        break;
      }
      const r = await writeCheckpoint(path);
      out(
        r,
        `checkpoint of version ${r.version}: ${humanNumber(r.size)} actions, ` +
          `${humanNumber(r.numOfAddFiles)} files, ${humanBytes(r.sizeInBytes)}` +
          (r.written ? "" : " (already existed)"),
      );
      break;
    }
  }
}

if (import.meta.main) await runMain(main);
