/**
 * `deno task docs:tasks [--check]`: writes docs/tasks.md from the tasks' own option specs, so
 * the reference cannot drift from what the tasks accept. Each task script exports its specs
 * (`OPTIONS` or `SPECS`, and `USAGE` where it has one); the prose around them is hand-written in
 * docs/tasks/*.md, one fragment per task (`kafka:up` → `kafka_up.md`) plus `_intro.md` and
 * `_conventions.md`. A task in deno.json without a fragment is an error. tests/docs_test.ts fails
 * when docs/tasks.md differs from what this renders.
 */
import { join } from "node:path";
import { importTasksForDocs, type OptionSpecs, parseCli, runMain } from "../src/config.ts";
import { ROOT } from "../src/tasks.ts";

/** One section of docs/tasks.md: the tasks it covers and the script that defines them. */
interface TaskSection {
  tasks: string[];
  /** Under scripts/; none for tasks without options of their own. */
  script?: string;
  /** Shown when the script exports no USAGE. */
  usage: string;
}

/** The order of docs/tasks.md: the main job first, then the pipeline's steps, then the tools. */
export const SECTIONS: TaskSection[] = [
  { tasks: ["demo"], script: "demo.ts", usage: "deno task demo [options]" },
  { tasks: ["produce"], script: "produce.ts", usage: "deno task produce [options]" },
  { tasks: ["consume"], script: "consume.ts", usage: "deno task consume [options]" },
  { tasks: ["ingest-files"], script: "ingest_files.ts", usage: "deno task ingest-files [options]" },
  { tasks: ["gold"], script: "gold.ts", usage: "deno task gold [options]" },
  { tasks: ["score"], script: "score.ts", usage: "deno task score --truth FILE [options]" },
  {
    tasks: ["replay"],
    script: "replay.ts",
    usage: "deno task replay --reason R [--since TIME] [options]",
  },
  { tasks: ["query"], script: "query.ts", usage: "deno task query [SQL] [options]" },
  { tasks: ["table"], script: "table.ts", usage: "deno task table <verb> [TABLE] [options]" },
  { tasks: ["dashboard"], script: "dashboard.ts", usage: "deno task dashboard [options]" },
  {
    tasks: ["kafka:up", "kafka:down"],
    script: "kafka_local.ts",
    usage: "deno task kafka:up [options] | deno task kafka:down [options]",
  },
  {
    tasks: ["s3:up", "s3:down"],
    script: "s3_local.ts",
    usage: "deno task s3:up [options] | deno task s3:down [options]",
  },
  { tasks: ["setup"], usage: "deno task setup" },
  { tasks: ["test"], usage: "deno task test [deno test arguments: files, --filter NAME]" },
  { tasks: ["bench"], script: "bench.ts", usage: "deno task bench [options]" },
  { tasks: ["chaos"], script: "chaos.ts", usage: "deno task chaos [options]" },
  { tasks: ["docs:tasks"], script: "gen_task_docs.ts", usage: "deno task docs:tasks [--check]" },
];

export const OPTIONS = {
  check: {
    type: "boolean",
    description: "Write nothing; exit 1 when docs/tasks.md is not what the specs render",
  },
} as const satisfies OptionSpecs;

const OUT = "docs/tasks.md";
const FRAGMENTS = "docs/tasks";

/** A fragment's file name: `kafka:up` → `kafka_up.md`. */
export function fragmentName(task: string): string {
  return `${task.replaceAll(":", "_")}.md`;
}

async function fragment(name: string): Promise<string> {
  const path = join(ROOT, FRAGMENTS, name);
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`${FRAGMENTS}/${name} is missing: every task needs a fragment of prose`);
    }
    throw err;
  }
}

/** A markdown table cell: pipes escaped, never empty (deno fmt keeps `–` as it is). */
function cell(text: string): string {
  return text === "" ? "–" : text.replaceAll("|", "\\|");
}

/** A markdown table aligned the way deno fmt aligns it, so the file stays fmt-clean. */
export function markdownTable(header: string[], rows: string[][]): string {
  const width = header.map((h, i) => Math.max(h.length, 3, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(width[i])).join(" | ")} |`;
  return [line(header), line(width.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/**
 * A default that is a path inside the checkout, relative to it: the docs must not depend on
 * where the repository was cloned (`examples/sensors_demo.yaml`, not `/home/…/examples/…`).
 */
function repoRelative(value: string): string {
  const root = ROOT.endsWith("/") ? ROOT : `${ROOT}/`;
  return value.startsWith(root) ? value.slice(root.length) : value;
}

/** The options table of one task: flag, env twin, default, meaning. */
export function optionsTable(specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const flag = `--${name}${spec.type === "string" ? " <value>" : ""}`;
    const short = spec.short ? `\`-${spec.short}\`, ` : "";
    const def = spec.default === undefined || spec.default === "" || spec.default === false
      ? ""
      : `\`${repoRelative(String(spec.default))}\``;
    return [
      `${short}\`${flag}\`${spec.multiple ? " (repeatable)" : ""}`,
      spec.env ? `\`${spec.env}\`` : "",
      def,
      spec.description,
    ].map(cell);
  });
  return markdownTable(["option", "env twin", "default", "meaning"], rows);
}

/** The `deno task` line's permissions of a task, as deno.json gives them. */
function permissions(taskLine: string): string {
  return taskLine.split(/\s+/).filter((w) => /^--allow-/.test(w)).join(" ");
}

/** docs/tasks.md as the specs and fragments render it. */
export async function renderTaskDocs(): Promise<string> {
  const taskLines: Record<string, string> =
    JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).tasks;
  const covered = SECTIONS.flatMap((s) => s.tasks);
  const missing = Object.keys(taskLines).filter((t) => !covered.includes(t));
  if (missing.length > 0) {
    throw new Error(`tasks without a section in scripts/gen_task_docs.ts: ${missing.join(", ")}`);
  }
  importTasksForDocs();
  const out = [
    "<!-- Generated by `deno task docs:tasks` from the tasks' option specs and docs/tasks/*.md;",
    "     edit those, not this file (tests/docs_test.ts fails when it is stale). -->",
    "",
    "# Tasks",
    "",
    await fragment("_intro.md"),
    "",
  ];
  for (const section of SECTIONS) {
    const mod: Record<string, unknown> = section.script ? await import(`./${section.script}`) : {};
    const specs = (mod.OPTIONS ?? mod.SPECS) as OptionSpecs | undefined;
    const usage = typeof mod.USAGE === "string" ? mod.USAGE.replace(/^Usage: /, "") : section.usage;
    out.push(`## ${section.tasks.map((t) => `\`deno task ${t}\``).join(" / ")}`, "");
    out.push("```", usage, "```", "");
    out.push(await fragment(fragmentName(section.tasks[0])), "");
    if (specs && Object.keys(specs).length > 0) {
      out.push(optionsTable(specs), "");
    }
    const perms = [...new Set(section.tasks.map((t) => permissions(taskLines[t])))];
    out.push("Permissions (deno.json):", "", "```", ...perms, "```", "");
  }
  out.push(await fragment("_conventions.md"), "");
  return out.join("\n");
}

async function main(): Promise<number> {
  const { options } = parseCli(Deno.args, OPTIONS, "Usage: deno task docs:tasks [--check]");
  const text = await renderTaskDocs();
  const path = join(ROOT, OUT);
  if (options.check) {
    const current = await Deno.readTextFile(path).catch(() => "");
    if (current === text) return 0;
    console.error(`${OUT} is stale: run deno task docs:tasks`);
    return 1;
  }
  await Deno.writeTextFile(path, text);
  console.error(`wrote ${OUT}`);
  return 0;
}

if (import.meta.main) await runMain(main);
