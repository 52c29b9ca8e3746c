/**
 * The docs a newcomer reads stay true: docs/tasks.md is exactly what the tasks' option specs
 * and docs/tasks/*.md render (run `deno task docs:tasks` after changing either), and every
 * relative link in README.md and docs/*.md points at a file that exists.
 */
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";
import { renderTaskDocs } from "../scripts/gen_task_docs.ts";
import { ROOT } from "./helpers/tasks.ts";

/**
 * Links to docs that arrive from other branches. Merging them must empty this list: the test
 * fails as soon as a listed file exists.
 */
const PENDING = new Set<string>();

Deno.test("docs/tasks.md is what deno task docs:tasks renders", async () => {
  const current = await Deno.readTextFile(join(ROOT, "docs/tasks.md"));
  const rendered = await renderTaskDocs();
  assert.ok(current === rendered, "docs/tasks.md is stale: run deno task docs:tasks");
});

/** The markdown files whose links are checked, relative to ROOT. */
async function docFiles(): Promise<string[]> {
  const files = ["README.md"];
  for await (const e of Deno.readDir(join(ROOT, "docs"))) {
    if (e.isFile && e.name.endsWith(".md")) files.push(`docs/${e.name}`);
  }
  return files.sort();
}

/** Relative link targets of a markdown text, outside code blocks and code spans. */
export function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/^```[^\n]*\n[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
  const targets = [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]);
  return targets.filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith("#"))
    .map((t) => decodeURIComponent(t.split("#")[0]));
}

Deno.test("relativeLinks: finds file links, skips URLs, anchors and code", () => {
  const md = "[a](docs/x.md) [b](https://e.org) [c](#top) [d](../y.md#s) `[e](z.md)`\n" +
    "```\n[f](w.md)\n```\n";
  assert.deepEqual(relativeLinks(md), ["docs/x.md", "../y.md"]);
});

Deno.test("every relative link in README.md and docs/*.md resolves", async () => {
  const broken: string[] = [];
  for (const file of await docFiles()) {
    const text = await Deno.readTextFile(join(ROOT, file));
    for (const link of relativeLinks(text)) {
      const target = relative(ROOT, normalize(join(ROOT, dirname(file), link)));
      const exists = await Deno.stat(join(ROOT, target)).then(() => true, () => false);
      if (PENDING.has(target)) {
        assert.ok(!exists, `${target} exists now: remove it from PENDING in tests/docs_test.ts`);
        continue;
      }
      if (!exists) broken.push(`${file}: ${link}`);
    }
  }
  assert.deepEqual(broken, [], "links to files that do not exist");
});

Deno.test("docs/dependencies.md says what every task may do", async () => {
  const doc = await Deno.readTextFile(join(ROOT, "docs/dependencies.md"));
  const rows = doc.split("\n").filter((l) => l.startsWith("| `"));
  const tasks = Object.keys(JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).tasks);
  const missing = tasks.filter((t) => !rows.some((r) => r.split("|")[1].includes(`\`${t}\``)));
  assert.deepEqual(missing, [], "tasks without a row in the permissions table");
});
