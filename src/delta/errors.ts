/**
 * Typed errors of the Delta layer. Each carries the offending values as fields and in its
 * message, so a caller can branch on the class and an operator can act on the text alone.
 */

/**
 * Base class of the errors about a table: what it holds, its log, a conflicting writer. A
 * caller's bad argument (a negative version, both a version and a timestamp, a retention or
 * target size out of range) is a `RangeError` instead: a bug to fix, not a state to handle.
 */
export class DeltaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The path holds no `_delta_log/00000000000000000000.json` (or no log at all). */
export class TableNotFoundError extends DeltaError {
  constructor(readonly path: string) {
    super(`no Delta table at ${path} (missing _delta_log or version 0)`);
  }
}

/** A schema or schemaString is malformed or uses a type this layer does not support. */
export class SchemaError extends DeltaError {}

/** createTable found an existing table whose schema or partitioning differs from the request. */
export class TableExistsMismatchError extends DeltaError {
  constructor(readonly path: string, readonly detail: string) {
    super(`table ${path} already exists with a different definition: ${detail}`);
  }
}

/** A requested version or timestamp is not in the log. */
export class VersionNotFoundError extends DeltaError {}

/** The log is inconsistent (gap in versions, unreadable commit, missing protocol/metaData). */
export class CorruptLogError extends DeltaError {}

/**
 * Another writer committed a `txn` for an appId this commit also carries, after our read
 * version. For ingestion this means two consumers wrote the same Kafka partition: retrying
 * would duplicate data, so this is never retried.
 */
export class ConcurrentTransactionError extends DeltaError {
  constructor(
    readonly appId: string,
    readonly winningVersion: number,
    readonly readVersion: number,
    readonly winningTxnVersion: number,
  ) {
    super(
      `concurrent transaction for appId "${appId}": version ${winningVersion} committed txn ` +
        `version ${winningTxnVersion} after our read version ${readVersion}`,
    );
  }
}

/** The commit could not be placed: a conflicting winner or too many lost races. */
export class CommitConflictError extends DeltaError {
  constructor(
    readonly readVersion: number,
    readonly conflictingVersions: number[],
    readonly reason: string,
  ) {
    super(
      `commit conflict after read version ${readVersion} with version(s) ` +
        `${conflictingVersions.join(", ")}: ${reason}`,
    );
  }
}

/** Source rows do not fit the table schema (unknown column, NULL in a non-nullable one...). */
export class DataSchemaError extends DeltaError {}

/** Vacuum refused a retention shorter than the safety minimum without `force`. */
export class RetentionTooShortError extends DeltaError {
  constructor(readonly retentionHours: number, readonly minimumHours: number) {
    super(
      `vacuum retention ${retentionHours} h is below the ${minimumHours} h safety minimum; ` +
        "concurrent writers may still be about to commit such files (pass force to override)",
    );
  }
}
