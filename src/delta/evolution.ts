/**
 * Schema evolution by adding nullable columns — the one change a streaming table can take
 * without rewriting a byte: files written before it simply lack the column, and every Delta
 * reader (this layer's scans, delta_scan, delta-rs, Spark) reads it as NULL there.
 *
 * A writer that wants a column the table lacks puts a `metaData` action (same table id,
 * partitioning and properties, the new schemaString) in the SAME commit as the rows that carry
 * it, so no version has rows the schema does not describe and time travel to any older version
 * reads the old schema. Columns are never dropped or retyped here: a column the writer no longer
 * wants stays in the table and new rows write NULL into it.
 *
 * Races: commit.ts treats a metaData action as conflicting with every concurrent commit (and
 * every concurrent metaData as conflicting with us), so the loser re-reads the table, computes
 * its evolution again against the winner's schema (often: nothing left to add) and retries.
 *
 * @module
 */
import type { Action, MetadataAction } from "./actions.ts";
import { SchemaError } from "./errors.ts";
import { type DeltaField, type TableSchema, toSchemaString } from "./schema.ts";
import type { Snapshot } from "./snapshot.ts";

/** Case-insensitive field lookup (Delta resolves column names as Spark does). */
function fieldNamed(schema: TableSchema, name: string): DeltaField | undefined {
  const key = name.toLowerCase();
  return schema.fields.find((f) => f.name.toLowerCase() === key);
}

/**
 * `current` plus the fields of `wanted` it lacks, appended as nullable in `wanted`'s order, or
 * null when it lacks none. Fields of `current` are kept as they are (type included), so a
 * column that changed type in `wanted` keeps the table's type: the writer casts into it.
 */
export function withAddedFields(current: TableSchema, wanted: TableSchema): TableSchema | null {
  const added = wanted.fields.filter((f) => fieldNamed(current, f.name) === undefined);
  if (added.length === 0) return null;
  return { fields: [...current.fields, ...added.map((f) => ({ ...f, nullable: true }))] };
}

/**
 * Why a table's `existing` schema cannot serve a writer that asks for `requested`, or undefined
 * when it can: every field of both must agree on type, and a field only one side has must be
 * nullable (a requested one is added by evolution on the first write; an existing one the
 * request lacks is a column added earlier, kept and written as NULL).
 */
export function schemaCompatibility(
  existing: TableSchema,
  requested: TableSchema,
): string | undefined {
  for (const f of requested.fields) {
    const e = fieldNamed(existing, f.name);
    if (e === undefined) {
      if (!f.nullable) return `column "${f.name}" (${f.type}, not null) is missing`;
    } else if (e.type !== f.type) {
      return `column "${f.name}" is ${e.type}, requested ${f.type}`;
    } else if (e.nullable && !f.nullable) {
      return `column "${f.name}" is nullable, requested not null`;
    }
  }
  for (const e of existing.fields) {
    if (fieldNamed(requested, e.name) === undefined && !e.nullable) {
      return `column "${e.name}" (not null) is not in the requested schema`;
    }
  }
  return undefined;
}

/** The metaData action replacing `meta`'s schema, everything else (id included) kept. */
export function metadataWithSchema(meta: MetadataAction, schema: TableSchema): MetadataAction {
  return { ...meta, schemaString: toSchemaString(schema) };
}

/** A snapshot's table grown to `wanted`, and the actions that make it so in the next commit. */
export interface Evolution {
  /** The snapshot as the commit will leave it: write files against this one. */
  snapshot: Snapshot;
  /** `[{metaData}]` when columns are added, else empty. */
  actions: Action[];
  /** Names of the columns added. */
  added: string[];
}

/**
 * Plans adding to `snap`'s table the fields of `wanted` it lacks. Partition columns never
 * change; a wanted partition column the table lacks is a SchemaError (that needs a new table).
 */
export function evolveTo(snap: Snapshot, wanted: TableSchema): Evolution {
  const schema = withAddedFields(snap.schema, wanted);
  if (schema === null) return { snapshot: snap, actions: [], added: [] };
  const added = schema.fields.slice(snap.schema.fields.length).map((f) => f.name);
  const clash = added.find((n) => snap.partitionColumns.includes(n));
  if (clash) throw new SchemaError(`cannot add partition column "${clash}" to ${snap.path}`);
  const metadata = metadataWithSchema(snap.metadata, schema);
  return {
    snapshot: { ...snap, schema, metadata },
    actions: [{ metaData: metadata }],
    added,
  };
}
