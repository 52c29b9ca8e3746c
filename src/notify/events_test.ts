import assert from "node:assert/strict";
import { dashboardLink, diffIncidents, eventId, type IncidentRow, slackBody } from "./events.ts";

const T0 = Date.UTC(2025, 0, 13, 9);
const ctx = { dashboardUrl: "http://127.0.0.1:8080/", version: 7 };

function row(id: string, patch: Partial<IncidentRow> = {}): IncidentRow {
  return {
    incident_id: id,
    severity: "warning",
    device_id: "B-F1-co2-01",
    building: "B",
    floor: 1,
    type: "co2",
    rules: "threshold",
    episodes: 1,
    started_at: T0,
    ended_at: null,
    peak_value: 1200,
    peak_unit: "ppm",
    threshold: 1000,
    threshold_unit: "ppm",
    threshold_rule: "threshold",
    ...patch,
  };
}

const kinds = async (before: IncidentRow[], after: IncidentRow[]) =>
  (await diffIncidents(new Map(before.map((r) => [r.incident_id, r])), after, ctx))
    .map((e) => `${e.incident_id}:${e.event}`);

Deno.test("events: each transition once, in started_at order", async () => {
  assert.deepEqual(await kinds([], []), []);
  assert.deepEqual(await kinds([], [row("b", { started_at: T0 + 1 }), row("a")]), [
    "a:opened",
    "b:opened",
  ]);
  // New and already over: opened, then cleared.
  assert.deepEqual(await kinds([], [row("a", { ended_at: T0 + 60_000 })]), [
    "a:opened",
    "a:cleared",
  ]);
  // Nothing changed that an operator acts on (a new rule joined): no event.
  assert.deepEqual(await kinds([row("a")], [row("a", { rules: "spike,threshold" })]), []);
  assert.deepEqual(
    await kinds([row("a")], [row("a", { severity: "critical", ended_at: T0 + 60_000 })]),
    ["a:escalated", "a:cleared"],
  );
  // Late data reopened it; a severity never goes back down.
  assert.deepEqual(await kinds([row("a", { ended_at: T0 + 60_000 })], [row("a")]), [
    "a:reopened",
  ]);
  assert.deepEqual(await kinds([row("a", { severity: "critical" })], [row("a")]), []);
  // Merged into another (gone): no event of its own.
  assert.deepEqual(await kinds([row("a")], []), []);
});

Deno.test("events: ids depend on the incident, kind and state only", async () => {
  const [opened] = await diffIncidents(new Map(), [row("a")], ctx);
  const [again] = await diffIncidents(new Map(), [row("a", { rules: "spike,threshold" })], {
    ...ctx,
    version: 9,
  });
  assert.equal(opened.event_id, again.event_id);
  assert.equal(opened.event_id, await eventId("a", "opened", ""));
  assert.notEqual(opened.event_id, await eventId("b", "opened", ""));
  assert.match(opened.event_id, /^[0-9a-f]{32}$/);
  const [cleared1] = await diffIncidents(new Map([["a", row("a")]]), [
    row("a", { ended_at: T0 + 1 }),
  ], ctx);
  const [cleared2] = await diffIncidents(new Map([["a", row("a")]]), [
    row("a", { ended_at: T0 + 2 }),
  ], ctx);
  assert.notEqual(cleared1.event_id, cleared2.event_id, "a second clear is a new event");
});

Deno.test("events: link, building-level rows and the Slack line", async () => {
  assert.equal(
    dashboardLink("http://127.0.0.1:8080/", row("a", { device_id: "B F1/co2&x" })),
    "http://127.0.0.1:8080/?building=B&device=B+F1%2Fco2%26x",
  );
  const building = row("e", {
    device_id: null,
    floor: null,
    type: "energy",
    rules: "energy_baseline",
    peak_value: 2.6,
    peak_unit: "x baseline",
    threshold: 2,
    threshold_unit: "x baseline",
    threshold_rule: "energy_baseline",
  });
  const [e] = await diffIncidents(new Map(), [building], ctx);
  assert.equal(e.link, "http://127.0.0.1:8080/?building=B");
  assert.deepEqual(e.rules, ["energy_baseline"]);
  assert.equal(
    slackBody(e).text,
    ":warning: energy incident opened (warning) on (building), B: energy_baseline; peak 2.6 " +
      "x baseline, limit 2 x baseline (energy_baseline), since 2025-01-13T09:00:00.000Z " +
      "<http://127.0.0.1:8080/?building=B|dashboard>",
  );
});
