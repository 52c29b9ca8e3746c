/**
 * What a scenario proved (or failed to), judged the same way for every scenario, and its line
 * for humans.
 */
import { tableCounts } from "./mix.ts";
import { checkVersions, exactness, type Expected } from "./verify.ts";

/** What one scenario proved (or failed to): the figures of the closing note. */
export interface ScenarioReport {
  scenario: string;
  messages: number;
  /** SIGKILLs delivered to a consume process that was still running. */
  kills: number;
  /** Expected rows missing from bronze, silver or quarantine. */
  lost: number;
  /** Rows beyond one per source coordinate / reading. */
  duplicates: number;
  /** Table versions read back with delta_scan(path, version := v). */
  versionsChecked: number;
  /** Empty when the scenario held; otherwise each broken guarantee, with its numbers. */
  problems: string[];
  seconds: number;
  details: Record<string, number | string>;
}

/** Progress lines of a scenario (stderr in the long form, silent in tests unless asked). */
export type Log = (line: string) => void;

/** What every scenario takes: the size, the seed, and how it reports. */
export interface ScenarioOptions {
  messages: number;
  seed: number;
  /** Rows per flush of the consumers: small batches mean many commits to break. */
  maxRows: number;
  /** Versions read back per table (all when undefined). */
  versionSample?: number;
  log?: Log;
  /** Keep the lakehouse and topic afterwards, to look at them. */
  keep?: boolean;
}
/** Final judgement shared by every scenario. */
export async function judge(
  report: ScenarioReport,
  lakehouse: string,
  expected: Expected,
  { versionSample, seed }: Pick<ScenarioOptions, "versionSample" | "seed">,
): Promise<void> {
  const counts = await tableCounts(lakehouse);
  const ex = exactness(counts, expected);
  report.lost = ex.lost;
  report.duplicates = ex.duplicates;
  report.problems.push(...ex.problems);
  const v = await checkVersions(lakehouse, { sample: versionSample, seed });
  report.versionsChecked = v.checked;
  report.problems.push(...v.problems);
  report.details.bronze = counts.bronze;
  report.details.silver = counts.silver;
  report.details.quarantine = counts.quarantine;
}

/** Ends a scenario: its duration, and its lakehouse removed unless asked to keep it. */
export async function closeScenario(
  report: ScenarioReport,
  lakehouse: string,
  o: Pick<ScenarioOptions, "keep">,
  t0: number,
): Promise<void> {
  report.seconds = (performance.now() - t0) / 1000;
  if (!o.keep) await Deno.remove(lakehouse, { recursive: true }).catch(() => {});
}

export function newReport(scenario: string, messages: number): ScenarioReport {
  return {
    scenario,
    messages,
    kills: 0,
    lost: 0,
    duplicates: 0,
    versionsChecked: 0,
    problems: [],
    seconds: 0,
    details: {},
  };
}
/** One line per scenario for humans. */
export function formatReport(r: ScenarioReport): string {
  const head = `${r.scenario}: ${r.messages} msgs, ${r.kills} kills survived, lost ${r.lost}, ` +
    `duplicates ${r.duplicates}, ${r.versionsChecked} versions read, ${r.seconds.toFixed(1)} s`;
  const extra = Object.entries(r.details).map(([k, v]) => `${k}=${v}`).join(" ");
  return `${head}${extra ? ` [${extra}]` : ""}${
    r.problems.length ? `\n  PROBLEMS:\n  - ${r.problems.join("\n  - ")}` : " — OK"
  }`;
}
