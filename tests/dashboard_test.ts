/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core against a
 * dashboard serving a seeded lakehouse (real ingestion, real gold refresh).
 *
 * Asserts what a building manager relies on: the page loads without console errors, shows the
 * seeded buildings and charts, an incident (two alarm episodes, merged by the gold refresh) committed
 * after the page loaded shows up, expandable to its episodes,
 * within 5 s (pushed, no reload), an empty lakehouse says what to run, and the server refuses
 * anything but whitelisted GETs. Leaves a screenshot in tests/artifacts/dashboard.png.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import fs from "node:fs";
import type { Browser, Page } from "playwright-core";
import { startDashboard } from "../src/dashboard/server.ts";
import { refreshGold } from "../src/gold/refresh.ts";
import { appendAlarms, seedLakehouse } from "./dashboard_seed.ts";
import { skipTest } from "./helpers/skip.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = fileURLToPath(new URL("./artifacts/", import.meta.url));
/** Flags this machine's Chromium needs (no sandbox as root, no GPU, nothing phoning home). */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
];

/**
 * playwright-core probes `/proc/sys/fs/binfmt_misc/WSLInterop` with `fs.existsSync` when it
 * loads; Deno guards /proc behind --allow-all and throws where Node would answer false. The
 * suite runs with named permissions (scripts/test.ts), so the probe is answered "no" instead.
 */
async function loadPlaywright(): Promise<typeof import("playwright-core")> {
  const existsSync = fs.existsSync;
  fs.existsSync = (path: fs.PathLike) => {
    try {
      return existsSync(path);
    } catch {
      return false;
    }
  };
  return await import("playwright-core");
}

/** A browser cannot be fetched into .cache/ like the rest: without one the test is skipped. */
const HAVE_CHROMIUM = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();

async function launchChromium(): Promise<Browser> {
  const { chromium } = await loadPlaywright();
  return await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** Collects everything the page complains about. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => {
    // Closing the page aborts the open event stream; that is not a failure of the page.
    if (!r.url().includes("/events")) errors.push(`requestfailed: ${r.url()}`);
  });
  return errors;
}

/** A GET with a chosen Host header (fetch does not let a caller set it). */
async function rawGet(base: string, host: string): Promise<string> {
  const url = new URL(base);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  try {
    await conn.write(
      new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    );
    const buf = new Uint8Array(256);
    const n = await conn.read(buf);
    return new TextDecoder().decode(buf.subarray(0, n ?? 0));
  } finally {
    conn.close();
  }
}

const BROWSER_TEST = "dashboard: real browser shows seeded buildings and a new incident within 5 s";
if (!HAVE_CHROMIUM) {
  skipTest(
    BROWSER_TEST,
    `Chromium is not installed at ${CHROMIUM}: run \`apt-get install chromium\` ` +
      "(CI does it in .ci/extra_setup.sh)",
    { failInCi: true },
  );
}

Deno.test({
  name: BROWSER_TEST,
  ignore: !HAVE_CHROMIUM,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const browser = await launchChromium();
    const lakehouse = await Deno.makeTempDir({ prefix: "dashboard_test_" });
    const emptyLakehouse = await Deno.makeTempDir({ prefix: "dashboard_empty_" });
    const seeded = await seedLakehouse(lakehouse);
    const dash = await startDashboard({ lakehouse, port: 0 });
    const empty = await startDashboard({ lakehouse: emptyLakehouse, port: 0 });
    try {
      await t.step("page loads, shows buildings and charts, no console error", async () => {
        const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
        const errors = watchErrors(page);
        await page.goto(dash.url);
        for (const b of seeded.buildings) {
          await page.locator(`#overview [data-building="${b}"]`).waitFor({ timeout: 10_000 });
        }
        await page.locator("#charts canvas").first().waitFor({ timeout: 10_000 });
        const overview = await page.locator("#overview").innerText();
        for (const b of seeded.buildings) assert.match(overview, new RegExp(`Building ${b}\\b`));
        assert.equal(await page.locator("#charts .chart").count(), 4);
        const now = new Date(seeded.newestEventMs).toISOString().replace("T", " ").slice(0, 19);
        assert.equal(await page.locator("#now").innerText(), `${now} UTC`);
        assert.equal(await page.locator("#empty").isHidden(), true);

        // Pushed, not polled by the page: an incident committed now appears without a reload.
        // Two rules on one device at once (an alarm episode each) are one incident.
        const startedAt = seeded.newestEventMs - 4 * 60_000;
        const episode = {
          severity: "critical" as const,
          deviceId: "A-F1-co2-99",
          building: "A",
          floor: 1,
          type: "co2",
          startedAt,
          endedAt: null,
          readings: 9,
        };
        await appendAlarms(lakehouse, [
          {
            ...episode,
            alarmId: `t-${crypto.randomUUID()}`,
            rule: "threshold",
            peakValue: 1890,
            threshold: 1500,
          },
          {
            ...episode,
            alarmId: `s-${crypto.randomUUID()}`,
            rule: "spike",
            peakValue: 1890,
            threshold: 500,
          },
        ]);
        await refreshGold(lakehouse, { full: true, tables: ["incidents"], threads: 1 });
        const started = Date.now();
        const row = page.locator("#alarms-open tr", { hasText: "A-F1-co2-99" })
          .filter({ hasText: "spike, threshold" });
        await row.waitFor({ timeout: 5_000 });
        const appearedMs = Date.now() - started;
        assert.ok(appearedMs < 5_000, `incident appeared after ${appearedMs} ms`);
        assert.equal(await row.count(), 1);
        assert.match(await row.innerText(), /A-F1-co2-99[\s\S]*spike, threshold[\s\S]*4 min/);
        assert.match(await row.innerText(), /1,890 ppm \/ 1,500 ppm/);
        // Its rules open to the two alarm episodes.
        await row.locator("summary").click();
        const episodes = row.locator("ul.episodes li");
        assert.equal(await episodes.count(), 2);
        assert.match(await episodes.nth(0).innerText(), /^spike · critical/);
        assert.match(await episodes.nth(1).innerText(), /^threshold · critical/);

        // The range switch asks the server for the other whitelisted window.
        await page.locator('#range button[data-range="day"]').click();
        await page.locator("#charts canvas").first().waitFor({ timeout: 10_000 });

        await page.locator('#range button[data-range="hour"]').click();
        await page.locator("#charts canvas").first().waitFor({ timeout: 10_000 });
        await Deno.mkdir(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });
        // Evaluated in the page (as text: this file is type-checked without the DOM library).
        const timing = await page.evaluate<{ state: number; charts: number; bytes: number }>(
          `({
            state: Number(document.documentElement.dataset.stateAt),
            charts: Number(document.documentElement.dataset.chartsAt),
            bytes: [...performance.getEntriesByType("navigation"),
                    ...performance.getEntriesByType("resource")]
              .filter((e) => !e.name.includes("/events"))
              .reduce((n, e) => n + e.transferSize, 0),
          })`,
        );
        console.log(
          `first render: state ${timing.state} ms, charts ${timing.charts} ms after navigation; ` +
            `${timing.bytes} bytes loaded (excluding the event stream); alarm after ${appearedMs} ms`,
        );
        assert.deepEqual(errors, []);
        await page.close();

        // A second viewer finds everything cached: the render time of a warm server.
        const again = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
        await again.goto(dash.url);
        await again.locator("#charts canvas").first().waitFor({ timeout: 10_000 });
        const warm = await again.evaluate<number>(
          "Number(document.documentElement.dataset.chartsAt)",
        );
        console.log(`warm server: charts drawn ${warm} ms after navigation`);
        await again.close();
      });

      await t.step("stale badge, threshold bands, drill-down, CSV, lag and offsets", async () => {
        const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
        const errors = watchErrors(page);
        await page.goto(dash.url);
        await page.locator("#charts canvas").first().waitFor({ timeout: 10_000 });
        // Just seeded: data is arriving, so LIVE.
        await page.locator("#conn.conn-live").waitFor({ timeout: 5_000 });

        // The limits of sql/alarms/thresholds.sql, shaded on the charts.
        const temperature = page.locator('#charts .chart[data-type="temperature"]');
        assert.equal(
          await temperature.getAttribute("data-bands"),
          "comfort band 18–28 °C · critical outside 15–32 °C",
        );
        await page.locator('#charts .chart[data-type="co2"][data-bands-drawn="1"]').waitFor({
          timeout: 5_000,
        });
        assert.match(
          (await page.locator('#charts .chart[data-type="co2"]').getAttribute("data-bands")) ?? "",
          /comfort band ≤ 1,000 ppm · critical outside ≤ 1,500 ppm/,
        );
        assert.equal(
          await page.locator('#charts .chart[data-type="energy"]').getAttribute(
            "data-bands",
          ),
          null,
        );

        // Lag without a broker, in words; offsets one row per source.
        assert.match(await page.locator("#lag-note").innerText(), /^no broker configured/);
        const sources = await page.locator("#offsets tbody tr td:first-child").allInnerTexts();
        assert.ok(sources.length >= 1 && sources.length <= 3, sources.join("|"));
        for (const src of sources) assert.match(src, /^(kafka |files$)/);

        // A device's drill-down: its incidents, its floor's line only.
        await page.locator("#alarms-open button.device-link", { hasText: "A-F1-co2-99" }).click();
        await page.locator("#device-panel").waitFor({ state: "visible", timeout: 5_000 });
        assert.equal(await page.locator("#device-id").innerText(), "A-F1-co2-99");
        assert.match(
          await page.locator("#device-incidents tbody").innerText(),
          /critical[\s\S]*spike, threshold[\s\S]*open/i,
        );
        // Its own line, from silver (the seeded device of A/F1/co2 that has readings).
        const own = await browser.newPage();
        await own.goto(`${dash.url}?building=A&device=A-F1-co2-01`);
        await own.locator("#device-panel").waitFor({ state: "visible", timeout: 10_000 });
        await own.locator("#device-chart canvas").waitFor({ timeout: 10_000 });
        assert.ok(Number(await own.locator("#device-chart").getAttribute("data-points")) > 10);
        assert.match(await own.locator("#device-chart .bands").innerText(), /^CO₂ \(ppm\)/);
        await own.close();
        await page.locator("#device-close").click();
        assert.equal(await page.locator("#device-panel").isHidden(), true);

        // CSV of what a chart shows: UTC times, one column per floor.
        const [download] = await Promise.all([
          page.waitForEvent("download"),
          page.locator('#charts .chart[data-type="co2"] button.csv').click(),
        ]);
        const csv = await Deno.readTextFile(await download.path());
        assert.match(csv, /^time_utc,F\d+_ppm/);
        assert.match(csv.split("\n")[1], /^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z,/);
        assert.deepEqual(errors, []);
        await page.close();

        // Nothing committed to bronze or silver for longer than ?stale= seconds: STALE.
        const stale = await browser.newPage();
        await stale.goto(`${dash.url}?stale=1`);
        await stale.locator("#conn.conn-stale").waitFor({ timeout: 10_000 });
        assert.equal(await stale.locator("#title-state").innerText(), "STALE");
        assert.match(
          await stale.locator("#conn").innerText(),
          /^stale · last commit \d+ (s|min) ago$/i,
        );
        await stale.close();
      });

      await t.step("an empty lakehouse says what to run", async () => {
        const page = await browser.newPage();
        const errors = watchErrors(page);
        await page.goto(empty.url);
        await page.locator("#empty").waitFor({ state: "visible", timeout: 10_000 });
        const text = await page.locator("#empty").innerText();
        assert.match(text, /deno task demo/);
        assert.match(text, /deno task produce/);
        assert.match(text, /deno task consume/);
        assert.deepEqual(errors, []);
        await page.close();
      });

      await t.step("read-only, whitelisted parameters, security headers", async () => {
        const res = await fetch(dash.url);
        await res.body?.cancel();
        const csp = res.headers.get("content-security-policy") ?? "";
        assert.match(csp, /script-src 'self'/);
        assert.doesNotMatch(csp, /unsafe-inline/);
        assert.equal(res.headers.get("access-control-allow-origin"), null);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff");
        const status = async (path: string, init?: RequestInit) => {
          const r = await fetch(new URL(path, dash.url), init);
          await r.body?.cancel();
          return r.status;
        };
        assert.equal(await status("/", { method: "POST" }), 405);
        assert.equal(await status("/events?building=ZZZ"), 400);
        assert.equal(await status("/events?building=A%27%3B--"), 400);
        assert.equal(await status("/events?range=week"), 400);
        assert.equal(await status("/events?sql=SELECT%201"), 400);
        assert.equal(await status("/api/device?building=A&device=x%27%3B--&range=hour"), 400);
        assert.equal(await status("/api/device?building=ZZZ&device=A-F1-co2-01"), 400);
        assert.equal(await status("/api/device?building=A&device=A-F1-co2-01"), 200);
        assert.equal(await status("/../deno.json"), 404);
        // DNS rebinding: a page of another site resolved to 127.0.0.1 sends its own Host.
        assert.match(await rawGet(dash.url, "attacker.example"), /^HTTP\/1\.1 403/);
        assert.match(await rawGet(dash.url, "localhost"), /^HTTP\/1\.1 200/);
        // One shared refresh loop: ten viewers do not mean ten times the queries.
        const before = dash.stats().queries;
        const streams = await Promise.all(
          Array.from({ length: 10 }, () => fetch(new URL("/events?range=hour", dash.url))),
        );
        const readers = streams.map((s) => s.body!.getReader());
        await Promise.all(readers.map((r) => r.read()));
        await new Promise((r) => setTimeout(r, 2_500));
        assert.ok(dash.stats().queries - before <= 2, `queries: ${dash.stats().queries - before}`);
        await Promise.all(readers.map((r) => r.cancel()));
      });
    } finally {
      await browser.close();
      await dash.close();
      await empty.close();
      await Deno.remove(lakehouse, { recursive: true });
      await Deno.remove(emptyLakehouse, { recursive: true });
    }
  },
});
