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
  summaryJson,
  UsageError,
} from "../src/config.ts";
import { history, loadSnapshot, optimize, vacuum, writeCheckpoint } from "../src/delta/table.ts";
import { parseStats } from "../src/delta/actions.ts";
import { listLog, readLastCheckpoint } from "../src/delta/log.ts";
import type { Snapshot } from "../src/delta/snapshot.ts";
import { RetentionTooShortError } from "../src/delta/errors.ts";
import {
  type Cell,
  formatResult,
  humanBytes,
  humanBytesSameUnit,
  humanNumber,
  isoFromMicros,
  type ResultTable,
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
    description: "Output format: table, json, or csv (list and history: the tabular results)",
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

/** The formats each verb prints: csv only where the result is a table. */
const VERB_FORMATS: Record<string, readonly string[]> = {
  list: ["table", "json", "csv"],
  history: ["table", "json", "csv"],
};
const DEFAULT_FORMATS = ["table", "json"] as const;

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

type Options = ReturnType<typeof parseCli<typeof SPECS>>["options"];

/** What a verb printed: `value` as JSON, `text` for people, `grid` when it is a table (csv). */
interface Output {
  value: unknown;
  text: string;
  grid?: ResultTable;
}

const grid = (columns: string[], types: string[], rows: Cell[][]): ResultTable => ({
  columns,
  types,
  rows,
});
const gridText = (t: ResultTable) => formatResult(t, "table", { maxRows: 0 });

/** The verb, its table argument and the output format, checked before anything is read. */
function parseCommand(): { options: Options; command: string; arg: string; format: string } {
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
  const format = options.format === "text" ? "table" : options.format;
  const formats = VERB_FORMATS[command] ?? DEFAULT_FORMATS;
  if (!formats.includes(format)) {
    throw new UsageError(
      `--format of ${command} must be ${formats.join(", ")}; got "${options.format}"`,
    );
  }
  return { options, command, arg, format };
}

async function listTables(options: Options): Promise<Output> {
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
  if (rows.length === 0) console.error(`no tables under ${lakehouse} yet`);
  const t = grid(
    ["table", "version", "last_commit", "files", "size", "rows", "path"],
    ["VARCHAR", "BIGINT", "VARCHAR", "BIGINT", "VARCHAR", "BIGINT", "VARCHAR"],
    rows.map((
      r,
    ) => [r.table, r.version, r.lastCommit, r.files, humanBytes(r.bytes), r.rows, r.path]),
  );
  return { value: rows, text: gridText(t), grid: t };
}

async function tableInfo(path: string, options: Options): Promise<Output> {
  const version = options.version
    ? numberOption("version", options.version, { min: 0, integer: true })
    : undefined;
  const snap = await loadSnapshot(path, { version });
  const { rows, bytes } = summary(snap);
  const partitions = new Set(
    snap.files.map((f) => JSON.stringify(snap.partitionColumns.map((c) => f.partitionValues[c]))),
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
  const text = [
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
  ].join("\n");
  return { value: info, text };
}

async function tableHistory(path: string, options: Options): Promise<Output> {
  const limit = options.limit
    ? numberOption("limit", options.limit, { min: 1, integer: true })
    : undefined;
  const entries = await history(path, { limit });
  const t = grid(
    ["version", "committed", "operation", "metrics"],
    ["BIGINT", "VARCHAR", "VARCHAR", "VARCHAR"],
    entries.map((e) => [
      e.version,
      isoFromMicros(BigInt(e.timestamp) * 1000n),
      e.operation ?? "?",
      Object.entries(e.operationMetrics ?? {}).map(([k, v]) => `${k}=${v}`).join(" "),
    ]),
  );
  return { value: entries, text: gridText(t), grid: t };
}

async function optimizeTable(path: string, options: Options): Promise<Output> {
  const targetSize = options["target-size"]
    ? numberOption("target-size", options["target-size"], { min: 1, integer: true })
    : undefined;
  const r = await optimize(path, {
    targetSize,
    dryRun: options["dry-run"],
    onProgress: (m) => console.error(m),
  });
  const [removed, added] = humanBytesSameUnit(r.bytesRemoved, r.bytesAdded);
  const what = `${r.filesRemoved} files (${removed}) in ${r.partitionsOptimized} partitions`;
  const text = r.version !== undefined
    ? `version ${r.version}: compacted ${what} into ${r.filesAdded} files (${added})`
    : r.filesRemoved === 0
    ? "nothing to compact"
    : `would compact ${what}`;
  return { value: r, text };
}

async function vacuumTable(path: string, options: Options): Promise<Output> {
  const retentionHours = numberOption("retention-hours", options["retention-hours"], { min: 0 });
  let r;
  try {
    r = await vacuum(path, { retentionHours, force: options.force, dryRun: options["dry-run"] });
  } catch (err) {
    if (!(err instanceof RetentionTooShortError)) throw err;
    // The kernel's option is `force`; on the command line it is --force.
    throw new Error(
      `vacuum retention ${err.retentionHours} h is below the ${err.minimumHours} h safety ` +
        "minimum; concurrent writers may still be about to commit such files " +
        "(pass --force to override)",
    );
  }
  const text = [
    ...r.files,
    `${r.dryRun ? "would delete" : "deleted"} ${r.files.length} files (${humanBytes(r.bytes)})`,
  ].join("\n");
  return { value: r, text };
}

async function checkpointTable(path: string, options: Options): Promise<Output> {
  if (options["dry-run"]) {
    const { commits, checkpoints } = await listLog(path);
    const version = Math.max(commits.at(-1) ?? -1, checkpoints.at(-1) ?? -1);
    const exists = checkpoints.includes(version);
    return {
      value: { version, exists, dryRun: true },
      text: exists
        ? `a checkpoint of version ${version} already exists: nothing to write`
        : `would write the checkpoint of version ${version}`,
    };
  }
  const r = await writeCheckpoint(path);
  return {
    value: r,
    text: `checkpoint of version ${r.version}: ${humanNumber(r.size)} actions, ` +
      `${humanNumber(r.numOfAddFiles)} files, ${humanBytes(r.sizeInBytes)}` +
      (r.written ? "" : " (already existed)"),
  };
}

const VERBS: Record<string, (path: string, options: Options) => Promise<Output>> = {
  info: tableInfo,
  history: tableHistory,
  optimize: optimizeTable,
  vacuum: vacuumTable,
  checkpoint: checkpointTable,
};

async function main(): Promise<void> {
  const { options, command, arg, format } = parseCommand();
  const out = command === "list"
    ? await listTables(options)
    : await VERBS[command](await tablePath(arg, options.lakehouse), options);
  console.log(
    format === "json"
      ? summaryJson(out.value, 2)
      : format === "csv" && out.grid
      ? formatResult(out.grid, "csv")
      : out.text,
  );
}

if (import.meta.main) await runMain(main);
