/**
 * The three ingestion tables and their schemas — the lakehouse's public contract
 * (docs/architecture.md). Spark, delta-rs and DuckDB read exactly these columns.
 *
 * Schemas only grow (src/delta/evolution.ts): silver gains a nullable column per entry of the
 * catalogue's `columns:` and bronze gained `readings`/`duplicates`, each by a metaData action in
 * the commit of the first rows written after it was asked for. Tables are created with the
 * base schemas; the writer evolves them.
 */
import { isS3, joinLocation, resolveLocation } from "../storage/location.ts";
import { storageFor } from "../storage/storage.ts";
import { sqlIdent, sqlString } from "../duckdb/engine.ts";
import type { ColumnType, ExtraColumn } from "../reading/catalogue.ts";
import { type DeltaPrimitive, duckdbType, type TableSchema } from "../delta/schema.ts";
import { createTable } from "../delta/table.ts";
import type { Snapshot } from "../delta/snapshot.ts";

/** Both ingestion sources partition by building then type; unknown values are null. */
export const PARTITION_COLUMNS = ["building", "type"];

const sourceFields: TableSchema["fields"] = [
  { name: "source", type: "string", nullable: false },
  { name: "topic", type: "string", nullable: true },
  { name: "kafka_partition", type: "integer", nullable: true },
  { name: "kafka_offset", type: "long", nullable: true },
  { name: "kafka_key", type: "string", nullable: true },
  { name: "kafka_timestamp", type: "timestamp", nullable: true },
  { name: "file", type: "string", nullable: true },
  { name: "payload", type: "string", nullable: true },
  { name: "payload_base64", type: "string", nullable: true },
];

const partitionFields: TableSchema["fields"] = [
  { name: "building", type: "string", nullable: true },
  { name: "type", type: "string", nullable: true },
];

/**
 * `readings`: readings the message carried (1 for a narrow message, also one rejected whole;
 * one per type key of a wide one); `duplicates`: how many of them were duplicates. Rows written
 * before these columns existed read NULL: take them as 1 and `(status = 'duplicate')::int`.
 * They come after the partition columns because existing tables gained them by evolution.
 */
export const BRONZE_SCHEMA: TableSchema = {
  fields: [
    ...sourceFields,
    { name: "status", type: "string", nullable: false },
    { name: "ingest_time", type: "timestamp", nullable: false },
    ...partitionFields,
    { name: "readings", type: "integer", nullable: true },
    { name: "duplicates", type: "integer", nullable: true },
  ],
};

export const SILVER_SCHEMA: TableSchema = {
  fields: [
    { name: "timestamp", type: "timestamp", nullable: false },
    { name: "device_id", type: "string", nullable: false },
    { name: "floor", type: "integer", nullable: false },
    { name: "value", type: "double", nullable: false },
    { name: "unit", type: "string", nullable: false },
    { name: "source", type: "string", nullable: false },
    { name: "ingest_time", type: "timestamp", nullable: false },
    ...partitionFields,
  ],
};

export const QUARANTINE_SCHEMA: TableSchema = {
  fields: [
    { name: "reason", type: "string", nullable: false },
    { name: "detail", type: "string", nullable: true },
    ...sourceFields,
    { name: "ingest_time", type: "timestamp", nullable: false },
    ...partitionFields,
  ],
};

/** Delta type of each catalogue column type (integers as long: epoch ms, counters). */
const COLUMN_DELTA_TYPES: Record<ColumnType, DeltaPrimitive> = {
  double: "double",
  integer: "long",
  string: "string",
  boolean: "boolean",
};

/** Silver's schema under a catalogue: the base columns, then one nullable column per entry. */
export function silverSchema(columns: readonly ExtraColumn[]): TableSchema {
  return {
    fields: [
      ...SILVER_SCHEMA.fields,
      ...columns.map((c) => ({ name: c.name, type: COLUMN_DELTA_TYPES[c.type], nullable: true })),
    ],
  };
}

/**
 * The select list projecting the catalogue columns of `schema` (silver's, as the commit will
 * leave it) out of the staging column `extras` (a JSON object of the fields present, already
 * typed by the decoder), cast to the table's type with TRY_CAST: a column whose catalogue type
 * changed keeps the table's type, and a value that does not fit it is NULL rather than a
 * failed flush. Columns the catalogue no longer declares are not selected (NULL). Names are
 * catalogue identifiers (`[a-z][a-z0-9_]*`), quoted all the same.
 */
export function extrasSelect(
  schema: TableSchema,
  columns: readonly ExtraColumn[],
  from = "s.extras",
): string {
  return columns.map((c) => {
    const f = schema.fields.find((x) => x.name.toLowerCase() === c.name.toLowerCase());
    if (!f) throw new Error(`silver has no column "${c.name}": evolve its schema first`);
    return `TRY_CAST(${from} ->> ${sqlString(`$."${c.name}"`)} AS ${duckdbType(f.type)}) AS ${
      sqlIdent(f.name)
    }`;
  }).map((e) => `, ${e}`).join("");
}

export type IngestTable = "bronze" | "silver" | "quarantine";

/** The ingestion tables (writer.ts commits them silver first: see docs/architecture.md). */
export const INGEST_TABLES: readonly IngestTable[] = ["bronze", "silver", "quarantine"];

const SCHEMAS: Record<IngestTable, { schema: TableSchema; description: string }> = {
  bronze: {
    schema: BRONZE_SCHEMA,
    description: "Every input message or record, raw, once per source coordinate",
  },
  silver: {
    schema: SILVER_SCHEMA,
    description: "Valid sensor readings: typed, UTC, normalised units, deduplicated",
  },
  quarantine: { schema: QUARANTINE_SCHEMA, description: "Rejected inputs with their reason" },
};

export function tablePath(lakehouse: string, table: IngestTable): string {
  return joinLocation(resolveLocation(lakehouse), table);
}

/**
 * Which of the lakehouse's tables (bronze, silver, quarantine, gold) exist already, by name: a
 * run that must start from nothing (the demo, which scores what it finds) checks this first.
 */
export async function existingLakehouseTables(lakehouse: string): Promise<string[]> {
  const root = resolveLocation(lakehouse);
  const found: string[] = [];
  for (const dir of [...INGEST_TABLES, "gold"]) {
    const location = joinLocation(root, dir);
    if (isS3(root)) {
      if ((await storageFor(location).list(location, { recursive: true })).length > 0) {
        found.push(dir);
      }
      continue;
    }
    try {
      await Deno.stat(location);
      found.push(dir);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return found;
}

/**
 * Deletes the lakehouse's tables — bronze, silver, quarantine and gold/ — and nothing else: a
 * `--lakehouse` pointed at a directory that holds other files (its README, a user's notes, a
 * mistyped `.`) keeps them.
 */
export async function removeLakehouseTables(lakehouse: string): Promise<void> {
  const root = resolveLocation(lakehouse);
  for (const dir of [...INGEST_TABLES, "gold"]) {
    const location = joinLocation(root, dir);
    if (isS3(root)) {
      const storage = storageFor(location);
      for (const o of await storage.list(location, { recursive: true })) {
        await storage.delete(o.location);
      }
      continue;
    }
    await Deno.remove(location, { recursive: true }).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }
}

/**
 * Creates the three tables where missing (idempotent, safe between concurrent processes) and
 * returns their snapshots, so a writer starts from them instead of listing each log again.
 */
export async function ensureIngestTables(
  lakehouse: string,
): Promise<Record<IngestTable, Snapshot>> {
  if (!isS3(resolveLocation(lakehouse))) await Deno.mkdir(lakehouse, { recursive: true });
  const out = {} as Record<IngestTable, Snapshot>;
  for (const name of INGEST_TABLES) {
    out[name] = await createTable(tablePath(lakehouse, name), {
      schema: SCHEMAS[name].schema,
      partitionColumns: PARTITION_COLUMNS,
      name,
      description: SCHEMAS[name].description,
    });
  }
  return out;
}
