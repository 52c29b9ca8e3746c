import assert from "node:assert/strict";
import { eventAgeText } from "./progress.ts";

Deno.test("eventAgeText: freshness for live data, an age in a readable unit for a backfill", () => {
  assert.equal(eventAgeText(undefined), "freshness -");
  assert.equal(eventAgeText(0.84), "freshness 0.8s");
  assert.equal(eventAgeText(59.94), "freshness 59.9s");
  assert.equal(eventAgeText(270), "newest event 4.5 min ago");
  assert.equal(eventAgeText(47_520), "newest event 13.2 h ago");
  assert.equal(eventAgeText(47_806_717.4), "newest event 553.3 d ago");
  // Simulated time running ahead of the wall clock (--speedup).
  assert.equal(eventAgeText(-2.5), "newest event 2.5 s ahead of the clock");
  assert.equal(eventAgeText(-2191.5), "newest event 36.5 min ahead of the clock");
});
