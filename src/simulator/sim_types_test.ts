import assert from "node:assert/strict";
import { builtinCatalogue, loadCatalogue } from "../reading/catalogue_file.ts";
import { decodeReading } from "../reading/decode.ts";
import { BUILTIN_SIM_TYPES, simulatedTypes } from "./sim_types.ts";
import { createSimulator } from "./simulator.ts";

const DEMO_CATALOGUE = new URL("../../examples/sensors_demo.yaml", import.meta.url).pathname;
const RUN = {
  seed: 7,
  start: Date.UTC(2025, 0, 6, 6),
  intervalSeconds: 30,
  durationSeconds: 4 * 3600,
  topology: { buildings: 2, floors: 2 },
  faults: "chaos",
};

function messages(types?: ReturnType<typeof simulatedTypes>) {
  const sim = createSimulator({ ...RUN, ...(types ? { types } : {}) });
  const out = sim.nextBatch(1e9);
  return { out, episodes: sim.finish() };
}

Deno.test("sim types: the repository catalogue simulates the built-in four, byte for byte", () => {
  const types = simulatedTypes(builtinCatalogue());
  assert.deepEqual(
    types.map((t) => [t.name, t.unit]),
    BUILTIN_SIM_TYPES.map((t) => [t.name, t.unit]),
  );
  assert.deepEqual(messages(types), messages());
});

Deno.test("sim types: a catalogue type with simulate: is simulated within its range", async () => {
  const cat = await loadCatalogue(DEMO_CATALOGUE);
  // The demo catalogue's four types are the repository's.
  for (const [name, spec] of builtinCatalogue().types) {
    assert.deepEqual(cat.types.get(name), spec, name);
  }
  const { out, episodes } = messages(simulatedTypes(cat));
  const pm25 = out.filter((m) => m.key.includes("-pm25-") && m.fault === undefined);
  assert.equal(new Set(pm25.map((m) => m.key)).size, 4); // 2 buildings × 2 floors
  const values = pm25.map((m) => {
    const r = decodeReading(m.value, { catalogue: cat });
    assert.ok(r.ok, m.value);
    assert.equal(r.reading.unit, "ug/m3");
    return r.reading.value;
  });
  assert.ok(Math.min(...values) >= 0 && Math.max(...values) < 35, "a clean pm25 stays in band");
  // The same seed keeps the four built-in types' signal whatever else is simulated.
  const clean = (types?: ReturnType<typeof simulatedTypes>) =>
    createSimulator({ ...RUN, faults: "none", ...(types ? { types } : {}) }).nextBatch(1e9)
      .filter((m) => !m.key.includes("-pm25-"));
  assert.deepEqual(clean(simulatedTypes(cat)), clean());
  // Generic types get the kinds that need no knowledge of the signal.
  for (const e of episodes.filter((e) => e.type === "pm25")) {
    assert.ok(e.kind === "flatline" || e.kind === "silent", e.kind);
  }
});
