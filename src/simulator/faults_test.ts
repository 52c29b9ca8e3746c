import assert from "node:assert/strict";
import {
  corruptMessage,
  envelope,
  FAULT_PROFILES,
  FaultConfigError,
  REJECTED_FAULTS,
  resolveFaults,
} from "./faults.ts";
import { decodeReading } from "../reading/decode.ts";

const SEED =
  '{"timestamp":"2025-12-15T10:00:00Z","device_id":"sensor_001","building":"A","floor":2,' +
  '"type":"temperature","value":22.5,"unit":"C"}';

Deno.test("faults: profiles and overrides", () => {
  assert.equal(resolveFaults("none").data.duplicate, 0);
  assert.ok(resolveFaults("chaos").episodes.co2_high > 0);
  const r = resolveFaults("none", "spike=2, duplicate=0.1");
  assert.deepEqual([r.episodes.spike, r.data.duplicate], [2, 0.1]);
  assert.equal(FAULT_PROFILES.none.data.duplicate, 0, "profiles are not mutated");
  assert.throws(() => resolveFaults("nope"), FaultConfigError);
  assert.throws(() => resolveFaults("none", "bogus=1"), FaultConfigError);
  assert.throws(() => resolveFaults("none", "duplicate=2"), FaultConfigError);
  assert.throws(() => resolveFaults("none", "spike=-1"), FaultConfigError);
  assert.throws(() => resolveFaults("none", "malformed_json=0.6,duplicate=0.6"), FaultConfigError);
});

Deno.test("faults: every corruption variant is rejected by decodeReading", () => {
  for (const kind of REJECTED_FAULTS) {
    for (let v = 0; v < 1; v += 0.05) {
      const out = corruptMessage(kind as "malformed_json", SEED, v);
      const r = decodeReading(out);
      assert.equal(r.ok, false, `${kind} ${v}: ${out}`);
    }
  }
});

Deno.test("faults: envelope ramps smoothly in and out", () => {
  const s = { rampMs: 100, totalMs: 1000 };
  assert.deepEqual([envelope(s, -1), envelope(s, 0), envelope(s, 500), envelope(s, 1000)], [
    0,
    0,
    1,
    0,
  ]);
  assert.ok(envelope(s, 50) > 0 && envelope(s, 50) < 1);
  assert.equal(envelope({ rampMs: 0, totalMs: 0 }, 0), 1);
});
