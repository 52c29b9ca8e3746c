/**
 * Loading the SQL files under `sql/` that define gold tables and alarm rules.
 *
 * Business logic lives in those files so a building engineer can read and change it; TypeScript
 * only fills `{{placeholder}}`s with relation names and literals it quoted itself. A placeholder
 * left without a value is an error rather than silently reaching DuckDB, and so is a value
 * given for a placeholder the file does not use (a typo would otherwise go unnoticed).
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { DuckDBConnection } from "@duckdb/node-api";

/** Raised when a SQL file is missing or its placeholders do not match the values given. */
export class SqlFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SqlFileError";
  }
}

/** The project's `sql/` directory, found relative to this module (works from any cwd). */
export const SQL_DIR: string = resolve(dirname(fileURLToPath(import.meta.url)), "../../sql");

const cache = new Map<string, string>();

/** Reads `sql/<relPath>` (cached: the files do not change while a process runs). */
export async function readSqlFile(relPath: string): Promise<string> {
  const hit = cache.get(relPath);
  if (hit !== undefined) return hit;
  const path = join(SQL_DIR, relPath);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new SqlFileError(`cannot read ${path}: ${(err as Error).message}`);
  }
  cache.set(relPath, text);
  return text;
}

const PLACEHOLDER = /\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/gi;

/**
 * Applies `fn` to the code part of each line, leaving `--` comments alone: header comments may
 * name placeholders when documenting the inputs, and must stay comments.
 */
function mapCode(sql: string, fn: (code: string) => string): string {
  return sql.split("\n").map((line) => {
    const i = line.indexOf("--");
    return i < 0 ? fn(line) : fn(line.slice(0, i)) + line.slice(i);
  }).join("\n");
}

/** Names of the `{{placeholders}}` a SQL text uses (outside comments). */
export function placeholders(sql: string): Set<string> {
  const names = new Set<string>();
  mapCode(sql, (code) => {
    for (const m of code.matchAll(PLACEHOLDER)) names.add(m[1]);
    return code;
  });
  return names;
}

/**
 * Fills `{{name}}` placeholders. Values must already be SQL (an identifier quoted with sqlIdent,
 * a literal quoted with sqlString, a number): nothing is escaped here.
 */
export function fillSql(sql: string, values: Record<string, string>, where = "SQL"): string {
  const used = placeholders(sql);
  const missing = [...used].filter((n) => !(n in values));
  if (missing.length > 0) {
    throw new SqlFileError(`${where} needs values for {{${missing.join("}}, {{")}}}`);
  }
  const unused = Object.keys(values).filter((n) => !used.has(n));
  if (unused.length > 0) {
    throw new SqlFileError(`${where} has no placeholder {{${unused.join("}}, {{")}}}`);
  }
  return mapCode(sql, (code) => code.replace(PLACEHOLDER, (_, n: string) => values[n]));
}

/** Reads `sql/<relPath>` and fills its placeholders. */
export async function loadSql(
  relPath: string,
  values: Record<string, string> = {},
): Promise<string> {
  return fillSql(await readSqlFile(relPath), values, `sql/${relPath}`);
}

/**
 * Runs every statement of a SQL text, one at a time, split by DuckDB's own parser
 * (`extractStatements`): a `;` ending a comment line or inside a string literal is not the end
 * of a statement, as it was for the regex on `;` at line ends this replaces.
 */
export async function runStatements(conn: DuckDBConnection, sql: string): Promise<void> {
  const statements = await conn.extractStatements(sql).catch((err: Error) => {
    throw new SqlFileError(err.message.replace(/^Failed to extract statements: /, ""));
  });
  for (let i = 0; i < statements.count; i++) {
    const prepared = await statements.prepare(i);
    try {
      await prepared.run();
    } finally {
      prepared.destroySync();
    }
  }
}
