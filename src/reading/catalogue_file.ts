/**
 * Loading and validating the sensor catalogue file (`sensors.yaml`, or JSON, which is valid
 * YAML). Parsed with the npm `yaml` package's document API rather than to plain JS, so that
 * every refusal names the line it is about: a building engineer editing the file gets
 * `sensors.yaml:14: units."°F".scale must not be 0`, one message, and nothing is ingested.
 *
 * Strict on purpose: unknown keys, a threshold for a type that does not exist, a unit spelling
 * given twice, a zero scale, a type name that is not a safe partition value, a column that
 * would shadow a built-in silver column are all refused. A silently ignored typo in this file
 * would mean readings quarantined (or alarms never raised) for no visible reason.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node as YamlNode,
  parseDocument,
  type Scalar,
  type YAMLMap,
} from "yaml";
import type { OptionSpec } from "../config.ts";
import { readEnv } from "../env.ts";
import {
  type Aggregation,
  type Band,
  type ColumnType,
  type ExtraColumn,
  READING_FIELDS,
  type ReadingField,
  type SensorCatalogue,
  type SensorTypeSpec,
  type SimulateSpec,
  type TypeThresholds,
  type UnitConversion,
} from "./catalogue.ts";

/** A refused catalogue file: `file:line: message`, one per file (the first problem found). */
export class CatalogueError extends Error {
  constructor(readonly file: string, readonly line: number, readonly problem: string) {
    super(line > 0 ? `${file}:${line}: ${problem}` : `${file}: ${problem}`);
    this.name = "CatalogueError";
  }
}

/** The `--sensors` option of every task that reads the catalogue (config.ts parseCli spec). */
export const SENSORS_OPTION = {
  type: "string",
  env: "SENSORS_FILE",
  default: "",
  description:
    "Sensor catalogue (YAML or JSON; see docs/sensors.md). Default ./sensors.yaml, else the repository's",
} as const satisfies OptionSpec;

/** The repository's catalogue: the brief's four types. */
export const REPO_SENSORS_FILE = fileURLToPath(new URL("../../sensors.yaml", import.meta.url));

/** Type names and column names: lower-case identifiers, safe as partition values and in SQL. */
const NAME_RE = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * Columns the ingest tables already have (silver's, and those of bronze and quarantine, plus
 * the staging column `extras`): a `columns:` entry may not reuse one.
 */
export const RESERVED_COLUMNS: ReadonlySet<string> = new Set([
  ...READING_FIELDS,
  "source",
  "ingest_time",
  "topic",
  "kafka_partition",
  "kafka_offset",
  "kafka_key",
  "kafka_timestamp",
  "file",
  "payload",
  "payload_base64",
  "status",
  "reason",
  "detail",
  "readings",
  "duplicates",
  "extras",
]);

const COLUMN_TYPES: readonly ColumnType[] = ["double", "integer", "string", "boolean"];
const TOP_KEYS = ["types", "fields", "columns", "thresholds"] as const;
const TYPE_KEYS = [
  "description",
  "unit",
  "units",
  "range",
  "aggregate",
  "thresholds",
  "simulate",
] as const;
const THRESHOLD_KEYS = [
  "warning",
  "critical",
  "min_duration_s",
  "max_step",
  "max_step_ratio",
  "z_min_scale",
  "z_min_scale_rel",
  "flatline_s",
] as const;
const CONVERSION_KEYS = ["scale", "offset"] as const;
const SIMULATE_KEYS = ["base", "amplitude", "noise"] as const;
const COLUMN_KEYS = ["type", "from"] as const;
const MAX_UNIT_LENGTH = 32;

/** Walks the parsed document keeping the file name and line numbers for messages. */
class Reader {
  constructor(readonly file: string, readonly lines: LineCounter) {}

  lineOf(node: YamlNode | null | undefined): number {
    const at = node?.range?.[0];
    return at === undefined ? 0 : this.lines.linePos(at).line;
  }

  fail(node: YamlNode | null | undefined, problem: string): never {
    throw new CatalogueError(this.file, this.lineOf(node), problem);
  }

  /** The entries of a mapping, keys as strings, refusing keys outside `allowed`. */
  entries(
    node: unknown,
    what: string,
    allowed?: readonly string[],
  ): [string, YamlNode | null, YamlNode][] {
    if (!isMap(node)) this.fail(node as YamlNode, `${what} must be a mapping`);
    const out: [string, YamlNode | null, YamlNode][] = [];
    for (const pair of (node as YAMLMap).items) {
      const keyNode = pair.key as YamlNode;
      if (
        !isScalar(keyNode) || typeof keyNode.value !== "string" && typeof keyNode.value !== "number"
      ) {
        this.fail(keyNode ?? node as YamlNode, `${what}: keys must be plain strings`);
      }
      const key = String((keyNode as Scalar).value);
      if (allowed && !allowed.includes(key)) {
        this.fail(
          keyNode,
          `unknown key ${JSON.stringify(key)} in ${what} (expected one of ${allowed.join(", ")})`,
        );
      }
      out.push([key, pair.value as YamlNode | null, keyNode]);
    }
    return out;
  }

  scalar(node: YamlNode | null, what: string): unknown {
    if (node === null || node === undefined) return null;
    if (!isScalar(node)) this.fail(node, `${what} must be a single value`);
    return (node as Scalar).value;
  }

  string(node: YamlNode | null, what: string, keyNode: YamlNode): string {
    const v = this.scalar(node, what);
    if (typeof v !== "string" || v.length === 0) {
      this.fail(node ?? keyNode, `${what} must be a non-empty string`);
    }
    return v as string;
  }

  /** A finite number, or a fraction `a/b` written as a string (`5/9`: exact, readable). */
  number(node: YamlNode | null, what: string, keyNode: YamlNode): number {
    const v = this.scalar(node, what);
    const n = typeof v === "number" ? v : typeof v === "string" ? parseFraction(v) : NaN;
    if (!Number.isFinite(n)) {
      this.fail(node ?? keyNode, `${what} must be a number, got ${JSON.stringify(v)}`);
    }
    return n;
  }

  optionalNumber(node: YamlNode | null, what: string, keyNode: YamlNode, min?: number) {
    if (node === null || this.scalar(node, what) === null) return null;
    const n = this.number(node, what, keyNode);
    if (min !== undefined && n < min) this.fail(node, `${what} must be at least ${min}`);
    return n;
  }

  /** `[low, high]`, either side null; low ≤ high. */
  band(node: YamlNode | null, what: string, keyNode: YamlNode): Band {
    if (!isSeq(node) || node.items.length !== 2) {
      this.fail(node ?? keyNode, `${what} must be [low, high] (null for no limit on a side)`);
    }
    const [lo, hi] = (node as { items: YamlNode[] }).items.map((item, i) =>
      this.optionalNumber(item, `${what}[${i}]`, keyNode)
    );
    if (lo !== null && hi !== null && lo > hi) this.fail(node, `${what}: low ${lo} > high ${hi}`);
    return [lo, hi];
  }

  /** One path or a list of paths; each a dotted path of non-empty segments. */
  paths(node: YamlNode | null, what: string, keyNode: YamlNode): string[][] {
    const items = isSeq(node) ? node.items as YamlNode[] : [node];
    if (items.length === 0) this.fail(node ?? keyNode, `${what} must list at least one path`);
    return items.map((item, i) => {
      const p = this.string(item, `${what}[${i}]`, keyNode);
      const segments = p.split(".");
      if (segments.some((s) => s === "")) {
        this.fail(item ?? keyNode, `${what}: ${JSON.stringify(p)} has an empty path segment`);
      }
      return segments;
    });
  }
}

/** `"5/9"` → 0.555…, `"-160/9"`, `"1/1000"`; a plain numeric string too; NaN otherwise. */
function parseFraction(s: string): number {
  const m =
    /^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(?:\/\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*)?$/
      .exec(s);
  if (!m) return NaN;
  const num = Number(m[1]);
  return m[2] === undefined ? num : num / Number(m[2]);
}

/** Thresholds of a type that sets none: every rule off. */
export function noThresholds(): TypeThresholds {
  return {
    warning: [null, null],
    critical: [null, null],
    minDurationS: null,
    maxStep: null,
    maxStepRatio: null,
    zMinScale: null,
    zMinScaleRel: null,
    flatlineS: null,
  };
}

/** The numeric threshold keys: their TypeThresholds property and least value. */
const THRESHOLD_NUMBERS: Record<string, [keyof TypeThresholds, number]> = {
  min_duration_s: ["minDurationS", 0],
  max_step: ["maxStep", 0],
  max_step_ratio: ["maxStepRatio", 1],
  z_min_scale: ["zMinScale", 0],
  z_min_scale_rel: ["zMinScaleRel", 0],
  flatline_s: ["flatlineS", 0],
};

function readThresholds(r: Reader, node: YamlNode | null, what: string): TypeThresholds {
  const t = noThresholds() as unknown as Record<string, unknown>;
  for (const [key, value, keyNode] of r.entries(node, what, THRESHOLD_KEYS)) {
    const w = `${what}.${key}`;
    if (key === "warning" || key === "critical") t[key] = r.band(value, w, keyNode);
    else {
      const [prop, min] = THRESHOLD_NUMBERS[key];
      t[prop] = r.optionalNumber(value, w, keyNode, min);
    }
  }
  return t as unknown as TypeThresholds;
}

function readUnits(
  r: Reader,
  node: YamlNode | null,
  what: string,
  canonical: string,
): Map<string, UnitConversion> {
  const units = new Map<string, UnitConversion>([[canonical, { scale: 1, offset: 0 }]]);
  if (isNull(node)) return units;
  for (const [spelling, value, keyNode] of r.entries(node, what)) {
    const w = `${what}.${JSON.stringify(spelling)}`;
    if (spelling.length === 0 || spelling.length > MAX_UNIT_LENGTH) {
      r.fail(keyNode, `${w}: a unit spelling is 1..${MAX_UNIT_LENGTH} characters`);
    }
    let scale = 1;
    let offset = 0;
    if (value !== null && !(isScalar(value) && value.value === null)) {
      for (const [key, v, k] of r.entries(value, w, CONVERSION_KEYS)) {
        if (key === "scale") scale = r.number(v, `${w}.scale`, k);
        else offset = r.number(v, `${w}.offset`, k);
      }
    }
    if (scale === 0) r.fail(value ?? keyNode, `${w}.scale must not be 0`);
    if (units.has(spelling)) {
      // The YAML parser refuses a key given twice; this is the canonical unit listed again.
      if (scale !== 1 || offset !== 0) {
        r.fail(keyNode, `${w} is the canonical unit, which never converts; remove it`);
      }
      continue;
    }
    units.set(spelling, { scale, offset });
  }
  return units;
}

function readSimulate(r: Reader, node: YamlNode | null, what: string): SimulateSpec {
  const s = { base: NaN, amplitude: 0, noise: 0 };
  for (const [key, value, keyNode] of r.entries(node, what, SIMULATE_KEYS)) {
    const n = r.number(value, `${what}.${key}`, keyNode);
    if (key !== "base" && n < 0) r.fail(value, `${what}.${key} must be at least 0`);
    s[key as keyof typeof s] = n;
  }
  if (Number.isNaN(s.base)) r.fail(node, `${what} needs base (the mean level)`);
  return s;
}

function readType(r: Reader, name: string, node: YamlNode | null, keyNode: YamlNode) {
  const what = `types.${name}`;
  if (!NAME_RE.test(name)) {
    r.fail(
      keyNode,
      `type name ${
        JSON.stringify(name)
      } must be [a-z][a-z0-9_]{0,63} (it is the table's partition value)`,
    );
  }
  const raw = new Map(r.entries(node, what, TYPE_KEYS).map(([k, v, kn]) => [k, { v, kn }]));
  const unitEntry = raw.get("unit");
  if (!unitEntry) r.fail(keyNode, `${what} needs unit (the canonical unit stored in silver)`);
  const unit = r.string(unitEntry.v, `${what}.unit`, unitEntry.kn);
  if (unit.length > MAX_UNIT_LENGTH) r.fail(unitEntry.v, `${what}.unit is too long`);
  const get = (k: string) => raw.get(k);
  const unitsEntry = get("units");
  const rangeEntry = get("range");
  const aggEntry = get("aggregate");
  const thrEntry = get("thresholds");
  const simEntry = get("simulate");
  let aggregate: Aggregation = "mean";
  if (aggEntry) {
    const a = r.string(aggEntry.v, `${what}.aggregate`, aggEntry.kn);
    if (a !== "mean" && a !== "sum") {
      r.fail(aggEntry.v, `${what}.aggregate must be mean or sum, got ${JSON.stringify(a)}`);
    }
    aggregate = a;
  }
  if (get("description")) r.string(get("description")!.v, `${what}.description`, keyNode);
  const spec: SensorTypeSpec = {
    name,
    unit,
    units: readUnits(r, unitsEntry?.v ?? null, `${what}.units`, unit),
    range: rangeEntry ? r.band(rangeEntry.v, `${what}.range`, rangeEntry.kn) : [null, null],
    aggregate,
    thresholds: thrEntry ? readThresholds(r, thrEntry.v, `${what}.thresholds`) : noThresholds(),
    simulate: simEntry ? readSimulate(r, simEntry.v, `${what}.simulate`) : null,
  };
  return { spec, hasThresholds: thrEntry !== undefined };
}

function readColumn(r: Reader, name: string, node: YamlNode | null, keyNode: YamlNode) {
  const what = `columns.${name}`;
  if (!NAME_RE.test(name)) {
    r.fail(keyNode, `column name ${JSON.stringify(name)} must be [a-z][a-z0-9_]{0,63}`);
  }
  if (RESERVED_COLUMNS.has(name)) {
    r.fail(keyNode, `column ${JSON.stringify(name)} is a built-in column of the ingest tables`);
  }
  let type: unknown;
  let paths: string[][] = [[name]];
  let typeNode: YamlNode | null = node;
  if (isMap(node)) {
    const e = new Map(r.entries(node, what, COLUMN_KEYS).map(([k, v, kn]) => [k, { v, kn }]));
    const t = e.get("type");
    if (!t) r.fail(node, `${what} needs type (${COLUMN_TYPES.join(", ")})`);
    typeNode = t.v;
    type = r.scalar(t.v, `${what}.type`);
    const from = e.get("from");
    if (from) paths = r.paths(from.v, `${what}.from`, from.kn);
  } else {
    type = r.scalar(node, what);
  }
  if (!COLUMN_TYPES.includes(type as ColumnType)) {
    r.fail(
      typeNode ?? keyNode,
      `${what}: column type must be one of ${COLUMN_TYPES.join(", ")}, got ${JSON.stringify(type)}`,
    );
  }
  return { name, type: type as ColumnType, paths } satisfies ExtraColumn;
}

/**
 * Parses and validates catalogue text; `file` names it in messages (and in `source`).
 * Throws {@link CatalogueError} naming the line of the first problem.
 */
export function parseCatalogue(text: string, file: string): SensorCatalogue {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const r: Reader = new Reader(file, lines);
  const problem = doc.errors[0];
  if (problem) {
    const line = lines.linePos(problem.pos[0]).line;
    const msg = problem.code === "DUPLICATE_KEY"
      ? "a key is given twice (a unit spelling, type, field or column listed twice?)"
      : problem.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    throw new CatalogueError(file, line, `not valid YAML/JSON: ${msg}`);
  }
  const root = doc.contents as YamlNode | null;
  if (root === null) throw new CatalogueError(file, 1, "the file is empty (it needs types:)");
  const top = new Map(
    r.entries(root, "the catalogue", TOP_KEYS).map(([k, v, kn]) => [k, { v, kn }]),
  );
  const typesEntry = top.get("types");
  if (!typesEntry) r.fail(root, "the catalogue needs types: (at least one sensor type)");

  const types = new Map<string, SensorTypeSpec>();
  const withThresholds = new Set<string>();
  for (const [name, node, keyNode] of r.entries(typesEntry.v, "types")) {
    const { spec, hasThresholds } = readType(r, name, node, keyNode);
    types.set(name, spec);
    if (hasThresholds) withThresholds.add(name);
  }
  if (types.size === 0) r.fail(typesEntry.v ?? typesEntry.kn, "types: lists no sensor type");

  // Top-level thresholds: alarm tuning kept apart from the type definitions, if a site wants.
  const thrEntry = top.get("thresholds");
  if (thrEntry && !isNull(thrEntry.v)) {
    for (const [name, node, keyNode] of r.entries(thrEntry.v, "thresholds")) {
      const spec = types.get(name);
      if (!spec) {
        r.fail(
          keyNode,
          `thresholds for unknown type ${JSON.stringify(name)} (types: ${listTypes(types)})`,
        );
      }
      if (withThresholds.has(name)) {
        r.fail(keyNode, `thresholds for ${name} are also given under types.${name}.thresholds`);
      }
      types.set(name, { ...spec, thresholds: readThresholds(r, node, `thresholds.${name}`) });
    }
  }

  const fields = Object.fromEntries(READING_FIELDS.map((f) => [f, [[f]]])) as Record<
    ReadingField,
    string[][]
  >;
  const fieldsEntry = top.get("fields");
  if (fieldsEntry && !isNull(fieldsEntry.v)) {
    for (const [name, node, keyNode] of r.entries(fieldsEntry.v, "fields", READING_FIELDS)) {
      fields[name as ReadingField] = r.paths(node, `fields.${name}`, keyNode);
    }
  }

  const columns: ExtraColumn[] = [];
  const colEntry = top.get("columns");
  if (colEntry && !isNull(colEntry.v)) {
    for (const [name, node, keyNode] of r.entries(colEntry.v, "columns")) {
      columns.push(readColumn(r, name, node, keyNode));
    }
  }

  return { types, fields, columns, source: file, fingerprint: fingerprint(types, fields, columns) };
}

function isNull(node: YamlNode | null): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

function listTypes(types: ReadonlyMap<string, unknown>, max = 12): string {
  const names = [...types.keys()];
  return names.length > max
    ? `${names.slice(0, max).join(", ")}, … (${names.length} in all)`
    : names.join(", ");
}

/** A stable text form of what matters (descriptions and file layout do not). */
function normalForm(cat: Pick<SensorCatalogue, "types" | "fields" | "columns">): string {
  return JSON.stringify({
    types: [...cat.types.values()].map((t) => ({ ...t, units: [...t.units] })),
    fields: cat.fields,
    columns: cat.columns,
  });
}

function fingerprint(
  types: SensorCatalogue["types"],
  fields: SensorCatalogue["fields"],
  columns: SensorCatalogue["columns"],
): string {
  return createHash("sha256").update(normalForm({ types, fields, columns })).digest("hex").slice(
    0,
    16,
  );
}

/** Reads and validates a catalogue file; throws {@link CatalogueError} (`file:line: problem`). */
export async function loadCatalogue(path: string): Promise<SensorCatalogue> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new CatalogueError(path, 0, `cannot read: ${err instanceof Error ? err.message : err}`);
  }
  return parseCatalogue(text, path);
}

let builtin: SensorCatalogue | undefined;

/** The repository's sensors.yaml (the brief's four types), parsed once. */
export function builtinCatalogue(): SensorCatalogue {
  builtin ??= parseCatalogue(Deno.readTextFileSync(REPO_SENSORS_FILE), REPO_SENSORS_FILE);
  return builtin;
}

/**
 * The catalogue a task uses: `path` (the `--sensors` value) when given, else `SENSORS_FILE`,
 * else `./sensors.yaml` when it exists, else the repository's.
 */
export async function resolveCatalogue(path?: string): Promise<SensorCatalogue> {
  const chosen = path || readEnv("SENSORS_FILE");
  if (chosen) return await loadCatalogue(chosen);
  const local = resolve("sensors.yaml");
  if (local !== REPO_SENSORS_FILE && await exists(local)) return await loadCatalogue(local);
  return builtinCatalogue();
}

/** The file {@link resolveCatalogue} would read (for watching it), or null for the built-in. */
export async function catalogueFile(path?: string): Promise<string> {
  const chosen = path || readEnv("SENSORS_FILE");
  if (chosen) return chosen;
  const local = resolve("sensors.yaml");
  return await exists(local) ? local : REPO_SENSORS_FILE;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * What changed between two catalogues, one line per change, for the reload log: types added,
 * removed or changed (which of their settings), columns and field aliases.
 */
export function describeChange(before: SensorCatalogue, after: SensorCatalogue): string[] {
  const out: string[] = [];
  const added = [...after.types.keys()].filter((t) => !before.types.has(t));
  const removed = [...before.types.keys()].filter((t) => !after.types.has(t));
  if (added.length) out.push(`types added: ${added.join(", ")}`);
  if (removed.length) out.push(`types removed: ${removed.join(", ")}`);
  for (const [name, spec] of after.types) {
    const old = before.types.get(name);
    if (!old) continue;
    const a = JSON.parse(
      normalForm({ types: new Map([[name, spec]]), fields: {} as never, columns: [] }),
    );
    const b = JSON.parse(
      normalForm({ types: new Map([[name, old]]), fields: {} as never, columns: [] }),
    );
    const keys = Object.keys(a.types[0]).filter((k) =>
      JSON.stringify(a.types[0][k]) !== JSON.stringify(b.types[0][k])
    );
    if (keys.length) out.push(`type ${name} changed: ${keys.join(", ")}`);
  }
  const cols = (c: SensorCatalogue) => new Map(c.columns.map((x) => [x.name, JSON.stringify(x)]));
  const ca = cols(after);
  const cb = cols(before);
  const colAdded = [...ca.keys()].filter((c) => !cb.has(c));
  const colRemoved = [...cb.keys()].filter((c) => !ca.has(c));
  const colChanged = [...ca.keys()].filter((c) => cb.has(c) && cb.get(c) !== ca.get(c));
  if (colAdded.length) out.push(`columns added: ${colAdded.join(", ")}`);
  if (colRemoved.length) out.push(`columns removed: ${colRemoved.join(", ")} (data kept)`);
  if (colChanged.length) out.push(`columns changed: ${colChanged.join(", ")}`);
  const fieldsChanged = READING_FIELDS.filter((f) =>
    JSON.stringify(after.fields[f]) !== JSON.stringify(before.fields[f])
  );
  if (fieldsChanged.length) out.push(`field aliases changed: ${fieldsChanged.join(", ")}`);
  return out;
}
