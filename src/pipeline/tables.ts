/**
 * The three ingestion tables and their schemas — the lakehouse's public contract
 * (docs/architecture.md). Spark, delta-rs and DuckDB read exactly these columns.
 */
import { isS3, joinLocation, resolveLocation } from "../storage/location.ts";
import { storageFor } from "../storage/storage.ts";
import type { TableSchema } from "../delta/schema.ts";
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

export const BRONZE_SCHEMA: TableSchema = {
  fields: [
    ...sourceFields,
    { name: "status", type: "string", nullable: false },
    { name: "ingest_time", type: "timestamp", nullable: false },
    ...partitionFields,
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
