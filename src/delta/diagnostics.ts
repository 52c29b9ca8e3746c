/**
 * Where the Delta kernel reports what it recovers from on its own (a checkpoint that failed to
 * write, one it cannot read and reads around). Nothing here is an error for the caller — the
 * commit or read succeeded — so it is a line to log, not an exception; a task or test that
 * routes its logs elsewhere (the way gold and notify take a `log` callback) sets the sink once.
 *
 * @module
 */

/** A line for the operator; the kernel's default is stderr. */
export type DeltaLog = (line: string) => void;

const toStderr: DeltaLog = (line) => console.error(line);
let sink: DeltaLog = toStderr;

/** Routes the kernel's log lines to `log` (stderr again when omitted); returns the previous sink. */
export function setDeltaLog(log?: DeltaLog): DeltaLog {
  const previous = sink;
  sink = log ?? toStderr;
  return previous;
}

/** Logs one line, prefixed `delta: `. */
export function deltaLog(line: string): void {
  sink(`delta: ${line}`);
}
