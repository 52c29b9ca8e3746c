/**
 * One place for command-line flags, their environment-variable twins and defaults.
 *
 * Precedence is flag > env var > default, for every option of every task, so a deployment can
 * be configured entirely by environment and a one-off run by flags.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { isS3, LocationError, normaliseLakehouse } from "./storage/location.ts";
import { storageFor } from "./storage/storage.ts";
import { readEnv } from "./env.ts";

/** Describes one option: its env twin, default and the line `--help` prints. */
export interface OptionSpec {
  type: "string" | "boolean";
  /** Environment variable read when the flag is absent. */
  env?: string;
  default?: string | boolean;
  description: string;
  short?: string;
  /** Allows the flag several times; values are joined with "," (like the env form). */
  multiple?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** Values after parsing: strings for string options, booleans for boolean ones. */
export type ParsedOptions<S extends OptionSpecs> = {
  [K in keyof S]: S[K]["type"] extends "boolean" ? boolean : string;
};

/** Raised for a bad command line; CLIs print its message and exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Options every Kafka/lakehouse task shares (issue conventions). */
export const COMMON_OPTIONS = {
  brokers: {
    type: "string",
    env: "KAFKA_BROKERS",
    default: "127.0.0.1:9092",
    description: "Kafka bootstrap servers, comma-separated",
  },
  topic: {
    type: "string",
    env: "KAFKA_TOPIC",
    default: "sensor_data",
    description: "Kafka topic of sensor readings",
  },
  lakehouse: {
    type: "string",
    env: "LAKEHOUSE_DIR",
    default: "./lakehouse",
    description:
      "Directory or s3://bucket/prefix holding the Delta tables (S3: AWS_* variables, see docs/object-storage.md)",
  },
} as const satisfies OptionSpecs;

/**
 * The lakehouse a reading task works on, as an absolute path, or an error naming the path when
 * it is not a directory: a typo in `--lakehouse` must not look like an empty lakehouse. Every
 * task resolves `--lakehouse` here, so other locations (URLs) get one place to be added.
 */
export async function resolveLakehouse(path: string): Promise<string> {
  const location = normaliseLakehouse(path);
  if (isS3(location)) {
    // An object store has no directories: a prefix holding no object is the missing directory.
    const dirs = await storageFor(location).listDirectories(location);
    if (dirs.length === 0) {
      throw new Error(`lakehouse ${location} does not exist (no object under that prefix)`);
    }
    return location;
  }
  const abs = resolve(path);
  let isDir = false;
  try {
    isDir = (await Deno.stat(abs)).isDirectory;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  if (!isDir) throw new Error(`lakehouse ${path} does not exist or is not a directory`);
  return abs;
}

/** Only the lakehouse option, for tasks that never talk to Kafka. */
export const LAKEHOUSE_OPTION = {
  lakehouse: COMMON_OPTIONS.lakehouse,
} as const satisfies OptionSpecs;

const HELP_OPTION = {
  help: { type: "boolean", short: "h", description: "Show this help" },
} as const;

export { readEnv };

/** Renders the `--help` text from the option specs, so help never drifts from behaviour. */
export function usageText(usage: string, specs: OptionSpecs): string {
  const lines = [usage, "", "Options:"];
  for (const [name, spec] of Object.entries({ ...specs, ...HELP_OPTION })) {
    const flag = spec.type === "boolean" ? `--${name}` : `--${name} <value>`;
    const extra = [
      "env" in spec && spec.env ? `env ${spec.env}` : "",
      "default" in spec && spec.default !== undefined && spec.default !== false &&
        spec.default !== ""
        ? `default ${spec.default}`
        : "",
    ].filter(Boolean).join(", ");
    lines.push(`  ${flag.padEnd(28)} ${spec.description}${extra ? ` (${extra})` : ""}`);
  }
  return lines.join("\n");
}

/**
 * Parses argv against the specs. `--help` prints usage to stdout and exits 0; an unknown flag
 * throws a one-line UsageError pointing at `--help`.
 */
export function parseCli<S extends OptionSpecs>(
  argv: string[],
  specs: S,
  usage: string,
): { options: ParsedOptions<S>; positionals: string[]; given: Set<string> } {
  const parseSpec: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = { help: { type: "boolean", short: "h" } };
  for (const [name, spec] of Object.entries(specs)) {
    parseSpec[name] = { type: spec.type };
    if (spec.short) parseSpec[name].short = spec.short;
    if (spec.multiple) parseSpec[name].multiple = true;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: parseSpec,
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (err) {
    throw new UsageError(parseArgsProblem(err));
  }
  if (parsed.values.help) {
    console.log(usageText(usage, specs));
    Deno.exit(0);
  }
  const options: Record<string, string | boolean> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const raw = parsed.values[name];
    const flagValue = Array.isArray(raw) ? raw.join(",") : raw;
    const envValue = spec.env ? readEnv(spec.env) : undefined;
    if (spec.type === "boolean") {
      options[name] = flagValue === true ||
        (flagValue === undefined && envValue !== undefined
          ? /^(1|true|yes|on)$/i.test(envValue)
          : (flagValue ?? spec.default ?? false) === true);
    } else {
      options[name] = (flagValue as string | undefined) ?? envValue ?? (spec.default as string) ??
        "";
    }
  }
  // Every task touching tables takes `--lakehouse`: an s3:// URL is normalised, any other
  // scheme refused here (taken as a path, `gs://x` silently became a local folder `gs:`).
  if ("lakehouse" in specs && typeof options.lakehouse === "string") {
    try {
      options.lakehouse = normaliseLakehouse(options.lakehouse);
    } catch (err) {
      if (err instanceof LocationError) throw new UsageError(err.message);
      throw err;
    }
  }
  const given = new Set<string>();
  for (const t of parsed.tokens ?? []) if (t.kind === "option") given.add(t.name);
  return { options: options as ParsedOptions<S>, positionals: parsed.positionals, given };
}

/**
 * node:util parseArgs' complaint as one usage line: `unknown option --x (see --help)` rather
 * than its message with unbalanced quotes and advice about `--`, followed by the whole help.
 */
function parseArgsProblem(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  const unknown = message.match(/^Unknown option '([^']+)'/);
  if (unknown) return `unknown option ${unknown[1]} (see --help)`;
  const first = message.split("\n")[0].replace(/'/g, "").replace(/\.$/, "");
  return `${first.charAt(0).toLowerCase()}${first.slice(1)} (see --help)`;
}

/**
 * JSON for a task's stdout summary without float noise: a fraction is rounded to three
 * decimals (seconds to the millisecond, ratios to 0.1 %), so `"seconds":0.8746573360000001`
 * prints as `0.875`. Integers are left as they are.
 */
export function summaryJson(value: unknown, space?: number): string {
  return JSON.stringify(
    value,
    (_k, v) => typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v,
    space,
  );
}

/**
 * The output format asked for, checked against the ones the task prints. `jsonAlias` is a
 * task's deprecated `--json` (before `--format json` was the one name): it still works, with a
 * warning on stderr naming the new spelling.
 */
export function outputFormat(
  format: string,
  formats: readonly string[],
  jsonAlias = false,
): string {
  if (jsonAlias) {
    console.error("warning: --json is deprecated; use --format json");
    return "json";
  }
  if (!formats.includes(format)) {
    throw new UsageError(`--format must be ${formats.join(" or ")}; got "${format}"`);
  }
  return format;
}

/**
 * Refuses flags given on the command line that `verb` does not use (a flag that is silently
 * ignored reads as if it had worked). Env twins are not checked: they configure many verbs.
 */
export function rejectFlags(
  given: Set<string>,
  verb: string,
  allowed: readonly string[],
  usage: string,
): void {
  const extra = [...given].filter((f) => f !== "help" && !allowed.includes(f));
  if (extra.length > 0) {
    throw new UsageError(
      `${extra.map((f) => `--${f}`).join(", ")} ${extra.length === 1 ? "does" : "do"} not ` +
        `apply to ${verb}${
          allowed.length ? ` (it takes ${allowed.map((f) => `--${f}`).join(", ")})` : ""
        }\n\n${usage}`,
    );
  }
}

/** Parses a positive number option, naming the option in the error. */
export function numberOption(
  name: string,
  value: string,
  opts: { min?: number; integer?: boolean } = {},
): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n))) {
    throw new UsageError(
      `--${name} must be a ${opts.integer ? "whole " : ""}number, got "${value}"`,
    );
  }
  if (opts.min !== undefined && n < opts.min) {
    throw new UsageError(`--${name} must be at least ${opts.min}, got ${n}`);
  }
  return n;
}

/** ISO-8601 dates and date-times as time flags take them (`--as-of`, `--since`). */
const ISO_TIME = /^\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(Z|[+-]\d\d(?::?\d\d)?)?)?$/;

/**
 * An ISO-8601 date or date-time; without a zone it is UTC (event time is UTC everywhere).
 * Anything else is a UsageError naming `flag`.
 */
export function parseInstant(value: string, flag: string): Date {
  const m = ISO_TIME.exec(value);
  const ms = m ? Date.parse(value.length > 10 && !m[1] ? `${value}Z` : value) : NaN;
  if (!Number.isFinite(ms)) {
    throw new UsageError(
      `${flag}: "${value}" is not an ISO-8601 time (e.g. 2025-01-06T10:00:00Z)`,
    );
  }
  return new Date(ms);
}

/** Splits a comma-separated broker list, rejecting empty entries. */
export function brokerList(value: string): string[] {
  const brokers = value.split(",").map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0) throw new UsageError("--brokers must name at least one host:port");
  return brokers;
}

/**
 * An error as one log line: its message without the SQL context DuckDB appends to some errors
 * ("LINE 1: COPY (SELECT …" and its caret line), which buries the cause in a log.
 */
export function errorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\n+LINE \d+:[^\n]*(\n *\^)?/g, "").trim();
}

let describeOnly = false;

/**
 * Makes every later {@link runMain} return at once, so a task script can be imported for its
 * exported option specs without running: scripts/gen_task_docs.ts renders docs/tasks.md from
 * them. (The scripts call runMain at top level; an `import.meta.main` guard would re-indent
 * every script.)
 */
export function importTasksForDocs(): void {
  describeOnly = true;
}

/**
 * Runs a CLI's main function with uniform error handling: UsageError prints `error: <what>` and
 * exits 2, any other error prints `error: <what>` (not a stack, unless DEBUG is set) and exits 1.
 */
export async function runMain(main: () => Promise<void | number>): Promise<void> {
  if (describeOnly) return;
  try {
    const code = await main();
    if (typeof code === "number" && code !== 0) Deno.exit(code);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(/^error: /.test(err.message) ? err.message : `error: ${err.message}`);
      Deno.exit(2);
    }
    const e = err as Error;
    console.error(readEnv("DEBUG") ? e.stack ?? String(e) : `error: ${errorText(e)}`);
    Deno.exit(1);
  }
}
