/**
 * The Parquet layout of a Delta checkpoint (PROTOCOL.md "Checkpoint Schema") and reading one.
 *
 * Only the columns and struct fields this layer writes are listed; a reader asks DuckDB for
 * whichever of them a file has, so checkpoints from Spark or delta-rs (with more fields, or
 * without a txn column) read too.
 */
import type {
  AddAction,
  MetadataAction,
  ProtocolAction,
  RemoveAction,
  TxnAction,
} from "./actions.ts";
import { openDuckDB, sqlIdent, sqlString } from "../duckdb/engine.ts";
import { enableLocation } from "../duckdb/s3.ts";
import { CorruptLogError } from "./errors.ts";

const STR_MAP = "MAP(VARCHAR, VARCHAR)";

/** DuckDB types of the checkpoint columns, in the order written. */
export const CHECKPOINT_COLUMNS: Record<string, string> = {
  protocol: "STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER)",
  metaData: `STRUCT(id VARCHAR, name VARCHAR, description VARCHAR, ` +
    `format STRUCT(provider VARCHAR, options ${STR_MAP}), schemaString VARCHAR, ` +
    `partitionColumns VARCHAR[], configuration ${STR_MAP}, createdTime BIGINT)`,
  txn: "STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)",
  add: `STRUCT(path VARCHAR, partitionValues ${STR_MAP}, size BIGINT, ` +
    `modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags ${STR_MAP})`,
  remove: `STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, ` +
    `extendedFileMetadata BOOLEAN, partitionValues ${STR_MAP}, size BIGINT, tags ${STR_MAP})`,
};

/** Table state stored in one checkpoint. */
export interface CheckpointState {
  protocol: ProtocolAction;
  metadata: MetadataAction;
  adds: AddAction[];
  removes: RemoveAction[];
  txns: TxnAction[];
}

function dropNulls<T>(obj: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== null && v !== undefined) out[k] = v;
  return out as T;
}

/**
 * Reads a single-part checkpoint through DuckDB's Parquet reader (no delta extension needed).
 * Struct columns come back via to_json so MAPs arrive as JSON objects with null values intact.
 * With `removes: false` the tombstones are left out.
 */
export async function readCheckpointFile(
  file: string,
  opts: { removes?: boolean } = {},
): Promise<CheckpointState> {
  const db = await openDuckDB({ delta: false, threads: 1 });
  try {
    await enableLocation(db.conn, file);
    const src = `read_parquet(${sqlString(file)})`;
    const cols = new Set(
      (await db.conn.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`)).getRowObjects().map((r) =>
        String(r.column_name)
      ),
    );
    // Without removes their rows are not even read: a streaming table's checkpoint can hold
    // hundreds of thousands of tombstones that a writer never needs.
    const skipRemoves = opts.removes === false && cols.has("remove");
    const wanted = ["protocol", "metaData", "txn", "add", "remove"]
      .filter((c) => cols.has(c) && !(skipRemoves && c === "remove"));
    const select = wanted.map((c) => `to_json(${sqlIdent(c)})::VARCHAR`).join(", ");
    const reader = await db.conn.runAndReadAll(
      `SELECT ${select} FROM ${src}${skipRemoves ? ` WHERE "remove" IS NULL` : ""}`,
    );
    let protocol: ProtocolAction | undefined;
    let metadata: MetadataAction | undefined;
    const adds: AddAction[] = [];
    const removes: RemoveAction[] = [];
    const txns: TxnAction[] = [];
    for (const row of reader.getRows()) {
      for (let i = 0; i < wanted.length; i++) {
        const cell = row[i];
        if (cell === null || cell === undefined) continue;
        const obj = JSON.parse(String(cell));
        if (obj === null) continue;
        switch (wanted[i]) {
          case "protocol":
            protocol = dropNulls(obj);
            break;
          case "metaData": {
            const m = dropNulls<MetadataAction>(obj);
            m.configuration ??= {};
            m.partitionColumns ??= [];
            m.format = {
              provider: m.format?.provider ?? "parquet",
              options: m.format?.options ?? {},
            };
            metadata = m;
            break;
          }
          case "txn":
            txns.push(dropNulls(obj));
            break;
          case "add": {
            const a = dropNulls<AddAction>(obj);
            // A MAP that maps a key to null must keep it: null is a real partition value.
            a.partitionValues = obj.partitionValues ?? {};
            adds.push(a);
            break;
          }
          case "remove":
            removes.push(dropNulls(obj));
            break;
        }
      }
    }
    if (!protocol || !metadata) {
      throw new CorruptLogError(`checkpoint ${file} lacks a protocol or metaData row`);
    }
    return { protocol, metadata, adds, removes, txns };
  } finally {
    db.close();
  }
}
