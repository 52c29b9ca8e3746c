/**
 * Delta table schemas: the TypeScript shape, Delta's `schemaString` JSON, and DuckDB types.
 *
 * Only flat schemas of primitive types are supported; anything else in a schemaString is a
 * SchemaError rather than a silent misread. `timestamp` is Delta's UTC-adjusted microsecond
 * timestamp, which in DuckDB is TIMESTAMPTZ (plain TIMESTAMP writes isAdjustedToUTC=false
 * Parquet, which strict readers take as `timestamp_ntz`).
 */
import { SchemaError } from "./errors.ts";

/** Delta primitive types this layer reads and writes. */
export type DeltaPrimitive =
  | "string"
  | "long"
  | "integer"
  | "short"
  | "byte"
  | "double"
  | "float"
  | "boolean"
  | "timestamp"
  | "date"
  | "binary";

/** One column of a table. */
export interface DeltaField {
  name: string;
  type: DeltaPrimitive;
  nullable: boolean;
}

/** A flat table schema, in column order. */
export interface TableSchema {
  fields: DeltaField[];
}

const DUCKDB_TYPES: Record<DeltaPrimitive, string> = {
  string: "VARCHAR",
  long: "BIGINT",
  integer: "INTEGER",
  short: "SMALLINT",
  byte: "TINYINT",
  double: "DOUBLE",
  float: "FLOAT",
  boolean: "BOOLEAN",
  timestamp: "TIMESTAMPTZ",
  date: "DATE",
  binary: "BLOB",
};

/** The DuckDB type whose Parquet encoding is what Delta expects for `type`. */
export function duckdbType(type: DeltaPrimitive): string {
  return DUCKDB_TYPES[type];
}

/** True for the names of DeltaPrimitive. */
export function isDeltaPrimitive(value: unknown): value is DeltaPrimitive {
  return typeof value === "string" && Object.hasOwn(DUCKDB_TYPES, value);
}

/**
 * Checks names are non-empty and unique (case-insensitively, as Spark resolves columns) and
 * types are supported.
 */
export function validateSchema(schema: TableSchema): void {
  if (!schema || !Array.isArray(schema.fields) || schema.fields.length === 0) {
    throw new SchemaError("a table schema needs at least one field");
  }
  const seen = new Set<string>();
  for (const f of schema.fields) {
    if (typeof f.name !== "string" || f.name.length === 0) {
      throw new SchemaError(`field name must be a non-empty string, got ${JSON.stringify(f.name)}`);
    }
    if (!isDeltaPrimitive(f.type)) {
      throw new SchemaError(`field "${f.name}" has unsupported type ${JSON.stringify(f.type)}`);
    }
    if (typeof f.nullable !== "boolean") {
      throw new SchemaError(`field "${f.name}" needs a boolean nullable`);
    }
    const key = f.name.toLowerCase();
    if (seen.has(key)) throw new SchemaError(`duplicate field name "${f.name}"`);
    seen.add(key);
  }
}

/** Serialises to Delta's schemaString (every field with nullable and empty metadata). */
export function toSchemaString(schema: TableSchema): string {
  validateSchema(schema);
  return JSON.stringify({
    type: "struct",
    fields: schema.fields.map((f) => ({
      name: f.name,
      type: f.type,
      nullable: f.nullable,
      metadata: {},
    })),
  });
}

/** Parses a schemaString; throws SchemaError naming the field for unsupported types. */
export function parseSchemaString(schemaString: string): TableSchema {
  let raw: unknown;
  try {
    raw = JSON.parse(schemaString);
  } catch (err) {
    throw new SchemaError(`schemaString is not JSON: ${(err as Error).message}`);
  }
  const obj = raw as { type?: unknown; fields?: unknown };
  if (obj?.type !== "struct" || !Array.isArray(obj.fields)) {
    throw new SchemaError(`schemaString must be a struct, got ${schemaString.slice(0, 200)}`);
  }
  const fields = obj.fields.map((f: { name?: unknown; type?: unknown; nullable?: unknown }) => {
    if (!isDeltaPrimitive(f.type)) {
      throw new SchemaError(
        `field ${JSON.stringify(f.name)} has type ${JSON.stringify(f.type)}, ` +
          "which this layer does not support (flat primitive schemas only)",
      );
    }
    return { name: String(f.name), type: f.type, nullable: f.nullable !== false };
  });
  const schema = { fields };
  validateSchema(schema);
  return schema;
}

/** Structural equality of two schemas (names, types, nullability, order). */
export function schemasEqual(a: TableSchema, b: TableSchema): boolean {
  return a.fields.length === b.fields.length &&
    a.fields.every((f, i) =>
      f.name === b.fields[i].name && f.type === b.fields[i].type &&
      f.nullable === b.fields[i].nullable
    );
}

/** Partition column types whose string serialisation this layer implements. */
const PARTITIONABLE: ReadonlySet<DeltaPrimitive> = new Set<DeltaPrimitive>([
  "string",
  "long",
  "integer",
  "short",
  "byte",
  "boolean",
  "date",
]);

/** Checks partition columns exist in the schema, are unique and of a partitionable type. */
export function validatePartitionColumns(schema: TableSchema, partitionColumns: string[]): void {
  const seen = new Set<string>();
  for (const c of partitionColumns) {
    const field = schema.fields.find((f) => f.name === c);
    if (!field) {
      throw new SchemaError(
        `partition column "${c}" is not in the schema (${
          schema.fields.map((f) => f.name).join(", ")
        })`,
      );
    }
    if (!PARTITIONABLE.has(field.type)) {
      throw new SchemaError(`partition column "${c}" has unsupported type ${field.type}`);
    }
    if (seen.has(c)) throw new SchemaError(`partition column "${c}" listed twice`);
    seen.add(c);
  }
  if (partitionColumns.length >= schema.fields.length) {
    throw new SchemaError("at least one column must not be a partition column");
  }
}
