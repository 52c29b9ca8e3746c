/**
 * Renders bench results as Markdown: the machine, the versions, one table of figures with the
 * issue's targets beside them, the dashboard queries, and notes. The same table is printed by
 * `deno task bench`.
 *
 * @module
 */
import type { BenchResults } from "./run.ts";
import type { Figure } from "./stats.ts";

/** One row of the figures table. */
interface Row {
  scenario: string;
  figure: string;
  value: Figure | string | null;
  target?: string;
}

function get(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const k of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function isFigure(v: unknown): v is Figure {
  return v !== null && typeof v === "object" && "median" in v && "runs" in v;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return "–";
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString("en-US");
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(Math.abs(n) >= 1 ? 2 : 3);
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(bytes < 10 * 1048576 ? 2 : 0)} MiB`;
}

/** What a section of the figures table builds its rows with. */
interface RowBuilder {
  /** Scenario figures, as in latest.json. */
  f: Record<string, unknown>;
  rows: Row[];
  /** A row for the figure at `path`, or the scenario's error row (once), or none if absent. */
  add: (scenario: string, figure: string, path: string, target?: string) => void;
  /** The number at `path` (NaN when absent). */
  n: (path: string) => number;
  /** The number at `path`, formatted. */
  count: (path: string) => string;
}

function rowBuilder(f: Record<string, unknown>): RowBuilder {
  const rows: Row[] = [];
  const add = (scenario: string, figure: string, path: string, target?: string) => {
    const err = get(f, `${path.split(".")[0]}.error`);
    const v = get(f, path);
    if (err !== undefined) {
      if (!rows.some((x) => x.scenario === scenario && x.figure === "error")) {
        rows.push({ scenario, figure: "error", value: String(err).slice(0, 120) });
      }
      return;
    }
    if (v === undefined) return;
    rows.push({ scenario, figure, value: isFigure(v) ? v : String(v), target });
  };
  const n = (path: string) => Number(get(f, path) ?? NaN);
  return { f, rows, add, n, count: (path) => fmt(n(path)) };
}

/** Burst production, before vs after. */
function producerRows({ add, count }: RowBuilder): void {
  add(
    `producer (${count("producer.messages")} msgs, burst)`,
    "before: 1 thread, acks=all, batch 5000 — msg/s",
    "producer.before.msgsPerSec",
  );
  add(
    `producer (${count("producer.messages")} msgs, burst)`,
    "before — MB/s",
    "producer.before.mbPerSec",
  );
  add(
    `producer (${count("producer.messages")} msgs, burst)`,
    "after: 2 workers, acks=1, batch 1000 — msg/s",
    "producer.after.msgsPerSec",
    "≥ 200,000",
  );
  add(
    `producer (${count("producer.messages")} msgs, burst)`,
    "after — MB/s",
    "producer.after.mbPerSec",
  );
  add(
    `producer (${count("producer.messages")} msgs, burst)`,
    "speedup after/before (pairwise)",
    "producer.speedup",
  );
}

/** The bare consumer (ceiling) vs the pipeline. */
function pipelineRows({ add, count }: RowBuilder): void {
  add(
    `ceiling vs pipeline (${count("pipeline.messages")} msgs)`,
    "bare kafkajs consumer (JSON.parse) — msg/s",
    "pipeline.bareMsgsPerSec",
  );
  add(
    `ceiling vs pipeline (${count("pipeline.messages")} msgs)`,
    "consume → committed bronze+silver — msg/s",
    "pipeline.pipelineMsgsPerSec",
    "≥ 100,000",
  );
  add(
    `ceiling vs pipeline (${count("pipeline.messages")} msgs)`,
    "ratio pipeline/bare (pairwise)",
    "pipeline.ratio",
    "≥ 0.70",
  );
}

/** Produce → visible latency. */
function freshnessRows({ add, count }: RowBuilder): void {
  const fr = `freshness (${count("freshness.rate")} msg/s × ${count("freshness.seconds")} s)`;
  add(fr, "produce → visible via delta_scan p50 — ms", "freshness.p50Ms");
  add(fr, "p95 — ms", "freshness.p95Ms");
  add(fr, "p99 — ms", "freshness.p99Ms", "≤ 500");
  add(fr, "max — ms", "freshness.maxMs");
  add(fr, "probes (first + last reading of every send)", "freshness.probes");
  add(fr, "probes never visible (30 s grace)", "freshness.missing", "0");
  add(fr, "consume CPU over the run — s", "freshness.consumeCpuSeconds");
}

/** Gold refreshes and the dashboard. */
function goldRows({ add, count, n }: RowBuilder): void {
  const gold = `gold (${count("gold.silverRows")} silver rows)`;
  add(
    gold,
    `full refresh, 120 devices × 1 reading/${n("gold.intervalS")} s — s`,
    "gold.fullRefreshSeconds",
    "≤ 5 (at 10M)",
  );
  add(
    gold,
    `full refresh, 120 devices × 1 reading/${n("gold.sparseIntervalS")} s (sparse minutes) — s`,
    "gold.sparseFullRefreshSeconds",
  );
  add(
    gold,
    `incremental refresh after ${count("gold.incrementalRows")} new rows — s`,
    "gold.incrementalRefreshSeconds",
    "≤ 1 (after 100k)",
  );
  add(
    gold,
    "dashboard cold start + first refresh — ms",
    "gold.dashboard.coldRefreshMs",
  );
}

/** Peak RSS and drain rate of the backlog. */
function memoryRows({ add, count }: RowBuilder): void {
  add(
    `memory (${count("memory.backlog")}-msg backlog)`,
    "consume peak RSS (VmHWM) — MiB",
    "memory.peakRssMiB",
    "≤ 286 MiB (300 MB)",
  );
  add(
    `memory (${count("memory.backlog")}-msg backlog)`,
    "drain rate — msg/s",
    "memory.drainMsgsPerSec",
  );
}

/** A peer's four rows (msg/s, CPU s, CPU µs a message, peak RSS), or why it did not run. */
function peerRows({ add, rows, f }: RowBuilder, scenario: string, who: string, path: string): void {
  const skipped = get(f, `${path}.skipped`) ?? get(f, `${path}.error`);
  if (skipped !== undefined) {
    rows.push({ scenario, figure: `${who}: not run`, value: String(skipped) });
    return;
  }
  add(scenario, `${who} — msg/s`, `${path}.msgsPerSec`);
  add(scenario, `${who} — CPU s (user + sys)`, `${path}.cpuSeconds`);
  add(scenario, `${who} — CPU µs a message`, `${path}.cpuUsPerMessage`);
  add(scenario, `${who} — peak RSS, MiB`, `${path}.peakRssMiB`);
}

/** Pairwise ratios a/b: msg/s, CPU s, peak RSS, with the issue's targets where it sets them. */
function ratioRows(
  { add }: RowBuilder,
  scenario: string,
  who: string,
  path: string,
  targets: [string?, string?, string?] = [],
): void {
  add(scenario, `${who} — msg/s (pairwise)`, `${path}.msgsPerSec`, targets[0]);
  add(scenario, `${who} — CPU s (pairwise)`, `${path}.cpuSeconds`, targets[1]);
  add(scenario, `${who} — peak RSS (pairwise)`, `${path}.peakRss`, targets[2]);
}

/** consume vs the Python peers on each workload, Spark, and the bare client. */
function peersRows(b: RowBuilder): void {
  const { add, count, rows, f } = b;
  const runs = "3 partitions, alternating runs";
  for (const w of ["clean", "fleet"]) {
    const p = `peers.workloads.${w}`;
    if (get(f, p) === undefined) continue;
    const scenario = `peers, ${get(f, `${p}.label`)} (${count("peers.messages")} msgs, ${runs})`;
    peerRows(b, scenario, "consume --until-caught-up", `${p}.consume`);
    peerRows(b, scenario, "columnar Python (lists a column → pyarrow → delta-rs)", `${p}.columnar`);
    peerRows(b, scenario, "row-wise Python (Table.from_pylist → delta-rs)", `${p}.rowwise`);
    ratioRows(b, scenario, "consume / columnar", `${p}.consumeOverColumnar`, [
      "≥ 1.3",
      "≤ 1",
      "< 1",
    ]);
    ratioRows(b, scenario, "consume / row-wise", `${p}.consumeOverRowwise`);
    const silver = get(f, `${p}.silverRows`) as Record<string, number> | undefined;
    if (silver) {
      rows.push({
        scenario,
        figure: "silver rows (consume / columnar / row-wise, first run)",
        value: `${silver.consume} / ${silver.columnar ?? "–"} / ${silver.rowwise ?? "–"}`,
      });
    }
  }
  // Results from before 2026-12-07 carry one topic, one Python peer and @platformatic/kafka.
  const peers = `peers (${count("peers.messages")} msgs, ${runs})`;
  for (
    const [who, path] of [
      ["Python peer (confluent-kafka + pyarrow + delta-rs)", "peers.python"],
      ["Spark peer (Structured Streaming + delta-spark, local[2]), fleet", "peers.spark"],
      ["bare kafkajs (fetch + JSON.parse, no writes), fleet", "peers.clients.kafkajs"],
      ["bare @platformatic/kafka (same)", "peers.clients.platformatic"],
    ]
  ) {
    if (get(f, path) !== undefined) peerRows(b, peers, who, path);
  }
  add(peers, "consume / Python — msg/s (pairwise)", "peers.consumeOverPython.msgsPerSec", "≥ 1.3");
  add(peers, "consume / Python — CPU s", "peers.consumeOverPython.cpuSeconds");
  add(peers, "consume / Python — peak RSS", "peers.consumeOverPython.peakRss", "< 1");
  add(peers, "consume / Spark — msg/s (pairwise)", "peers.consumeOverSpark.msgsPerSec", "≥ 4");
  add(peers, "consume / Spark — peak RSS", "peers.consumeOverSpark.peakRss");
  add(
    peers,
    "@platformatic/kafka / kafkajs — msg/s",
    "peers.clients.platformaticOverKafkajs.msgsPerSec",
  );
  add(
    peers,
    "@platformatic/kafka / kafkajs — CPU s",
    "peers.clients.platformaticOverKafkajs.cpuSeconds",
  );
}

/** A mostly-rejected topic drained beside the clean one. */
function rejectsRows(b: RowBuilder): void {
  const { count, rows, f } = b;
  if (get(f, "rejects") === undefined) return;
  const scenario = `rejects (${count("rejects.messages")} msgs, every reading future_timestamp, ` +
    "alternating with the clean topic)";
  if (get(f, "rejects.error") !== undefined) {
    rows.push({ scenario, figure: "error", value: String(get(f, "rejects.error")).slice(0, 120) });
    return;
  }
  peerRows(b, scenario, "consume, clean topic", "rejects.clean");
  peerRows(b, scenario, "consume, rejects topic", "rejects.rejects");
  ratioRows(b, scenario, "rejects / clean", "rejects.rejectsOverClean", ["≥ 0.8", "", "≤ 1"]);
  rows.push({
    scenario,
    figure: "rows of the first rejects drain (bronze / silver / quarantine)",
    value: `${get(f, "rejects.rows.bronze")} / ${get(f, "rejects.rows.silver")} / ${
      get(f, "rejects.rows.quarantine")
    }`,
  });
}

/** Files before and after optimize, on the memory scenario's lakehouse. */
function tableHealthRows({ rows, f }: RowBuilder): void {
  for (const t of ["bronze", "silver"]) {
    const h = get(f, `tableHealth.${t}`) as
      | { before: Record<string, number>; after: Record<string, number>; optimizeSeconds: number }
      | undefined;
    if (!h) continue;
    rows.push({
      scenario: `table health (${t}, after the drain)`,
      figure: "files per partition (mean / max), before → after optimize",
      value:
        `${h.before.meanFilesPerPartition} / ${h.before.maxFilesPerPartition} → ${h.after.meanFilesPerPartition} / ${h.after.maxFilesPerPartition}`,
    });
    rows.push({
      scenario: `table health (${t}, after the drain)`,
      figure: "mean file size, before → after (optimize time)",
      value: `${mib(h.before.meanFileBytes)} → ${
        mib(h.after.meanFileBytes)
      } (${h.optimizeSeconds} s)`,
    });
  }
}

/** Delta appends and commits (the s3 rows follow, then the log rows). */
function deltaWriteRows({ add, count }: RowBuilder): void {
  add("delta", `append ${count("delta.appendRows")} rows — rows/s`, "delta.appendRowsPerSec");
  add("delta", "commit latency — ms", "delta.commitLatencyMs");
}

/** Local vs s3:// appends and commits. */
function s3Rows({ add, count }: RowBuilder): void {
  add("s3", `append ${count("s3.appendRows")} rows, local — rows/s`, "s3.appendRowsPerSecLocal");
  add(
    "s3",
    `append ${count("s3.appendRows")} rows, s3:// (S3Proxy) — rows/s`,
    "s3.appendRowsPerSecS3",
  );
  add("s3", "commit latency, local — ms", "s3.commitLatencyMsLocal");
  add("s3", "commit latency, s3:// (S3Proxy) — ms", "s3.commitLatencyMsS3");
}

/** Delta snapshot load and log cleanup. */
function deltaLogRows({ add, count, n }: RowBuilder): void {
  add(
    "delta",
    `snapshot load at ${count("delta.snapshotCommits")} commits — ms`,
    "delta.snapshotLoadMs",
    "< 1,000 (at 10,000)",
  );
  add(
    "delta",
    `log cleanup at ${count("delta.snapshotCommits")} commits: ${
      count("delta.logCleanupDeleted")
    } expired files in ${n("delta.logCleanupPasses")} passes of ≤ 100 ms — µs a file`,
    "delta.logCleanupUsPerFile",
  );
  add("delta", "log cleanup: a pass with nothing to delete — ms", "delta.logCleanupIdleMs");
}

/** Live vs backfill vs resent readings. */
function backfillRows({ add, count }: RowBuilder): void {
  const backfill = `backfill (${count("backfill.backfillRows")} readings a day older than ${
    count("backfill.silverRows")
  } in silver)`;
  add(backfill, "live path: the silver rows, in order — rows/s", "backfill.liveRowsPerSec");
  add(backfill, "backfill: each looked up in silver, new — rows/s", "backfill.backfillRowsPerSec");
  add(backfill, "the same backfill again: all duplicates — rows/s", "backfill.resendRowsPerSec");
}

/** decodeReading throughput. */
function decodeRows({ add, count }: RowBuilder): void {
  add(
    "decode",
    `decodeReading, ${count("decode.messages")} payloads — msg/s`,
    "decode.msgsPerSec",
    "> 150,000",
  );
}

/** Produce→webhook latency of alarms under background load. */
function alarmLatencyRows({ add, count, n }: RowBuilder): void {
  const a = `alarm-latency (${count("alarm-latency.rate")} msg/s, ${
    count("alarm-latency.seconds")
  } s, ${n("alarm-latency.episodes")} episodes)`;
  for (const p of ["p50", "p95", "p99", "max"]) {
    add(
      a,
      `produce→webhook ${p} — s`,
      `alarm-latency.latencySeconds.${p}`,
      p === "p99" ? "≤ 2" : undefined,
    );
  }
  // Where the seconds go (bench/alarm_stages.ts).
  for (const st of ["consume", "wait", "alarms", "incidents", "notify"]) {
    for (const p of ["p50", "p99"]) {
      add(a, `stage ${st} ${p} — s`, `alarm-latency.stageSeconds.${st}.${p}`);
    }
  }
  add(a, "alarms arrived", "alarm-latency.received");
  add(a, "alarms missing", "alarm-latency.missing", "0");
  add(a, "gold cycle p50 — s", "alarm-latency.cycleSeconds.p50");
  add(a, "gold cycle p95 — s", "alarm-latency.cycleSeconds.p95");
  add(
    a,
    "alarms refresh p50, first half of cycles — s",
    "alarm-latency.alarmsSecondsByHalf.first.p50",
  );
  add(a, "alarms refresh p50, second half — s", "alarm-latency.alarmsSecondsByHalf.second.p50");
  add(a, "load average before", "alarm-latency.loadavgBefore");
  add(a, "load average after", "alarm-latency.loadavgAfter");
}

/** Steady state at fleet scale: RSS per process, gold cycles, files per table. */
function soakRows({ add, count, f, n }: RowBuilder): void {
  const s = `soak (5,200 devices, ${count("soak.rate")} msg/s, ${n("soak.minutes")} min)`;
  const rss = get(f, "soak.rssMiB") as Record<string, unknown> | undefined;
  const limits: Record<string, string> = { gold: "≤ 512", consume: "≤ 400" };
  for (const p of Object.keys(rss ?? { consume: 0 })) {
    add(s, `${p} RSS start — MiB`, `soak.rssMiB.${p}.startMiB`);
    add(s, `${p} RSS end — MiB`, `soak.rssMiB.${p}.endMiB`);
    add(s, `${p} RSS peak — MiB`, `soak.rssMiB.${p}.peakMiB`, limits[p]);
    add(s, `${p} RSS slope, last half — MiB/min`, `soak.rssMiB.${p}.lastHalfSlopeMiBPerMin`, "≈ 0");
  }
  add(s, "gold cycles", "soak.gold.cycleSeconds.n");
  add(s, "gold cycle p50 — s", "soak.gold.cycleSeconds.p50", "≤ 1");
  add(s, "gold cycle p95 — s", "soak.gold.cycleSeconds.p95", "≤ 1");
  add(s, "gold cycle max — s", "soak.gold.cycleSeconds.max");
  add(s, "dashboard /api/state p95 — ms", "soak.dashboard.stateMs.p95");
  add(s, "consume compaction passes", "soak.consume.compactions");
  add(s, "consume files compacted", "soak.consume.filesCompacted");
  const active = get(f, "soak.activeFiles.peak") as Record<string, number> | undefined;
  for (const t of Object.keys(active ?? {})) {
    add(s, `active files, peak: ${t}`, `soak.activeFiles.peak.${t}`);
    add(s, `active files, end: ${t}`, `soak.activeFiles.end.${t}`);
  }
  const files = get(f, "soak.filesPerTable") as Record<string, number> | undefined;
  for (const t of Object.keys(files ?? {})) {
    add(s, `files on disk: ${t}`, `soak.filesPerTable.${t}`);
  }
  const codes = get(f, "soak.exitCodes") as Record<string, number> | undefined;
  for (const p of Object.keys(codes ?? {})) {
    add(s, `${p} exit code after SIGTERM`, `soak.exitCodes.${p}`, "0");
  }
}

/** The sections of the figures table, in table order. */
const SECTIONS: ((b: RowBuilder) => void)[] = [
  producerRows,
  pipelineRows,
  freshnessRows,
  goldRows,
  memoryRows,
  peersRows,
  rejectsRows,
  alarmLatencyRows,
  soakRows,
  tableHealthRows,
  deltaWriteRows,
  s3Rows,
  deltaLogRows,
  backfillRows,
  decodeRows,
];

/** The rows of the figures table, from whatever scenarios ran. */
export function figureRows(r: BenchResults): Row[] {
  const b = rowBuilder(r.figures);
  for (const section of SECTIONS) section(b);
  return b.rows;
}

function cell(v: Row["value"]): [string, string, string] {
  if (v === null) return ["–", "", ""];
  if (typeof v === "string") return [v, "", ""];
  const unit = v.unit === "msg/s" || v.unit === "rows/s" || v.unit === "ms" || v.unit === "s" ||
      v.unit === "MB/s" || v.unit === "MiB"
    ? ""
    : ` ${v.unit}`;
  return [`${fmt(v.median)}${unit}`, fmt(v.min), fmt(v.max)];
}

/** The figures as a Markdown table. */
export function figuresTable(r: BenchResults): string {
  const lines = [
    "| Scenario | Figure | Median | Min | Max | Target |",
    "| --- | --- | ---: | ---: | ---: | --- |",
  ];
  for (const row of figureRows(r)) {
    const [med, min, max] = cell(row.value);
    lines.push(
      `| ${row.scenario} | ${row.figure} | ${med} | ${min} | ${max} | ${row.target ?? ""} |`,
    );
  }
  return lines.join("\n");
}

/** Dashboard query latencies as a Markdown table (empty string when not measured). */
export function dashboardTable(r: BenchResults): string {
  const q = get(r.figures, "gold.dashboard.queries") as
    | { query: string; runs: number; rows: number; p50Ms: number; p95Ms: number }[]
    | undefined;
  if (!q?.length) return "";
  return [
    "| Dashboard query (1 DuckDB thread) | Rows | p50 ms | p95 ms | Runs |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...q.map((x) => `| ${x.query} | ${x.rows} | ${fmt(x.p50Ms)} | ${fmt(x.p95Ms)} | ${x.runs} |`),
  ].join("\n");
}

/** The whole latest.md. */
export function renderMarkdown(r: BenchResults): string {
  const m = r.machine;
  const v = r.versions;
  return [
    `# Benchmark results (${r.mode})`,
    "",
    `Run ${r.startedAt} → ${r.finishedAt} (${r.durationSeconds} s) with \`deno task bench${
      r.mode === "quick" ? " --quick" : ""
    }\`.`,
    "",
    `- Machine: ${m.cpuModel}, ${m.cores} cores, ${
      (m.memoryBytes / 2 ** 30).toFixed(1)
    } GiB RAM, ${m.os}`,
    `- Load average (1/5/15 min): ${m.loadAverageAtStart.join(" / ")} at start, ${
      m.loadAverageAtEnd.join(" / ")
    } at end${m.cpuStealPercent == null ? "" : `; CPU steal ${m.cpuStealPercent} % of the run`}`,
    `- Deno ${v.deno} (V8 ${v.v8}), Kafka ${v.kafka} (${v.kafkaSource}), kafkajs ${v.kafkajs}, DuckDB ${v.duckdb}`,
    "- Each figure: median of the runs, with min and max; ratios are taken pair by pair in one run.",
    "",
    figuresTable(r),
    "",
    dashboardTable(r),
    "",
    ...(r.notes.length ? ["Notes:", "", ...r.notes.map((n) => `- ${n}`), ""] : []),
  ].join("\n");
}
