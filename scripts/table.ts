/**
 * `deno task table <info|history|optimize|vacuum|checkpoint> <table path>` — inspect and
 * maintain one Delta table. Results on stdout (human, or JSON with --format json), progress on
 * stderr. All logic lives in src/delta.
 */
import { numberOption, parseCli, runMain, UsageError } from "../src/config.ts";
import { history, loadSnapshot, optimize, vacuum, writeCheckpoint } from "../src/delta/table.ts";
import { parseStats } from "../src/delta/actions.ts";
import { readLastCheckpoint } from "../src/delta/log.ts";

const USAGE =
  "Usage: deno task table <info|history|optimize|vacuum|checkpoint> <table path> [options]";

const SPECS = {
  format: { type: "string", default: "text", description: "Output format: text or json" },
  version: { type: "string", description: "info/history: table version (time travel) / entries" },
  "dry-run": { type: "boolean", description: "optimize/vacuum: plan only, change nothing" },
  "retention-hours": {
    type: "string",
    default: "168",
    description: "vacuum: keep unreferenced files younger than this",
  },
  force: { type: "boolean", description: "vacuum: allow a retention under 1 hour" },
  "target-size": { type: "string", description: "optimize: target file size in bytes" },
} as const;

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

async function main(): Promise<void> {
  const { options, positionals } = parseCli(Deno.args, SPECS, USAGE);
  const [command, path] = positionals;
  if (!command || !path || positionals.length > 2) {
    throw new UsageError(`expected a command and a table path\n\n${USAGE}`);
  }
  if (options.format !== "text" && options.format !== "json") {
    throw new UsageError(`--format must be text or json, got "${options.format}"`);
  }
  const json = options.format === "json";
  const out = (value: unknown, text: string) =>
    console.log(json ? JSON.stringify(value, null, 2) : text);
  const progress = (m: string) => console.error(m);

  switch (command) {
    case "info": {
      const version = options.version
        ? numberOption("version", options.version, { min: 0, integer: true })
        : undefined;
      const snap = await loadSnapshot(path, { version });
      const rows = snap.files.reduce((s, f) => s + (parseStats(f)?.numRecords ?? 0), 0);
      const bytes = snap.files.reduce((s, f) => s + f.size, 0);
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
          `files       ${info.files} (${mib(bytes)}), ${rows} rows`,
          `checkpoint  ${info.lastCheckpoint ?? "none"}`,
          `properties  ${JSON.stringify(info.properties)}`,
          `txns        ${snap.txns.size}`,
          ...[...snap.txns].map(([k, v]) => `  ${k} = ${v.version}`),
        ].join("\n"),
      );
      break;
    }
    case "history": {
      const limit = options.version
        ? numberOption("version", options.version, { min: 1, integer: true })
        : undefined;
      const entries = await history(path, { limit });
      out(
        entries,
        entries.map((e) =>
          `${String(e.version).padStart(6)}  ${new Date(e.timestamp).toISOString()}  ` +
          `${(e.operation ?? "?").padEnd(14)} ${JSON.stringify(e.operationMetrics ?? {})}`
        ).join("\n"),
      );
      break;
    }
    case "optimize": {
      const targetSize = options["target-size"]
        ? numberOption("target-size", options["target-size"], { min: 1, integer: true })
        : undefined;
      const r = await optimize(path, {
        targetSize,
        dryRun: options["dry-run"],
        onProgress: progress,
      });
      out(
        r,
        r.version === undefined
          ? `${
            options["dry-run"] ? "would compact" : "nothing to compact:"
          } ${r.filesRemoved} files in ${r.partitionsOptimized} partitions`
          : `version ${r.version}: compacted ${r.filesRemoved} files (${
            mib(r.bytesRemoved)
          }) into ${r.filesAdded} (${mib(r.bytesAdded)}) in ${r.partitionsOptimized} partitions`,
      );
      break;
    }
    case "vacuum": {
      const retentionHours = numberOption("retention-hours", options["retention-hours"], {
        min: 0,
      });
      const r = await vacuum(path, {
        retentionHours,
        force: options.force,
        dryRun: options["dry-run"],
        onProgress: progress,
      });
      out(
        r,
        [
          ...r.files,
          `${r.dryRun ? "would delete" : "deleted"} ${r.files.length} files (${mib(r.bytes)})`,
        ]
          .join("\n"),
      );
      break;
    }
    case "checkpoint": {
      const r = await writeCheckpoint(path);
      out(
        r,
        `checkpoint of version ${r.version}: ${r.size} actions, ${r.numOfAddFiles} files, ` +
          `${r.sizeInBytes} B${r.written ? "" : " (already existed)"}`,
      );
      break;
    }
    default:
      throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

if (import.meta.main) await runMain(main);
