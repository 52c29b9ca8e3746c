import assert from "node:assert/strict";
import { parseCatalogue } from "./catalogue_file.ts";
import { decodeMessage, decodeReading } from "./decode.ts";
import { CASES_SENSORS_YAML, SENSOR_CATALOGUE_CASES } from "./hostile_cases.ts";

const catalogue = parseCatalogue(CASES_SENSORS_YAML, "cases.yaml");

for (const c of SENSOR_CATALOGUE_CASES) {
  Deno.test(`catalogue case: ${c.name} → ${c.expect.join(", ")}`, () => {
    const out = decodeMessage(c.payload, { catalogue });
    assert.deepEqual(out.map((r) => r.ok ? "valid" : r.reason), c.expect);
    out.forEach((r, i) => {
      if (!r.ok) assert.ok(r.detail.length > 0 && r.detail.length < 300, r.detail);
      const want = c.silver?.[i];
      if (want) {
        assert.ok(r.ok);
        assert.deepEqual({ type: r.reading.type, value: r.reading.value }, want);
      }
      if (c.extras !== undefined && r.ok) assert.deepEqual(r.extras, c.extras);
      // every reading of a payload is partitioned under its own type
      if (c.expect.length > 1) assert.equal(r.hints.type, c.silver?.[i]?.type ?? r.hints.type);
    });
  });
}

Deno.test("catalogue cases: valid readings are all distinct (none deduplicated end to end)", () => {
  const seen = new Set<string>();
  for (const c of SENSOR_CATALOGUE_CASES) {
    for (const r of decodeMessage(c.payload, { catalogue })) {
      if (!r.ok) continue;
      const key = `${r.reading.deviceId}|${r.reading.type}|${r.reading.timestamp}`;
      assert.ok(!seen.has(key), `${c.name}: ${key}`);
      seen.add(key);
    }
  }
});

Deno.test("wide payloads: each reading gets its type's partition hint; shared fields once", () => {
  const out = decodeMessage(
    '{"device_id":"r1","timestamp":"2025-12-15T10:00:00Z","building":"A","floor":3,' +
      '"temperature":22.5,"humidity":45,"co2":650}',
  );
  assert.deepEqual(out.map((r) => r.hints), [
    { building: "A", type: "temperature" },
    { building: "A", type: "humidity" },
    { building: "A", type: "co2" },
  ]);
  assert.ok(out.every((r) => r.ok && r.reading.floor === 3 && r.reading.deviceId === "r1"));
  // decodeReading gives the first of them
  const first = decodeReading(
    '{"device_id":"r1","timestamp":1765792800,"building":"A","floor":3,"co2":650,"humidity":4}',
  );
  assert.ok(first.ok && first.reading.type === "co2");
  // a reject of a shared field hits every reading, each in its own partition
  const bad = decodeMessage('{"device_id":"r1","building":"A","floor":3,"co2":650,"energy":1}');
  assert.deepEqual(bad.map((r) => [r.ok ? "valid" : r.reason, r.hints.type]), [
    ["missing_field:timestamp", "co2"],
    ["missing_field:timestamp", "energy"],
  ]);
});

Deno.test("an out array is reused: cleared on every call", () => {
  const out: ReturnType<typeof decodeMessage> = [];
  decodeMessage(
    '{"device_id":"r","timestamp":0,"building":"A","floor":1,"co2":500,"energy":1}',
    {},
    out,
  );
  assert.equal(out.length, 2);
  decodeMessage("nope", {}, out);
  assert.equal(out.length, 1);
});

Deno.test("unknown_type lists the catalogue's types, truncated for a large catalogue", () => {
  const many = parseCatalogue(
    `types:\n${Array.from({ length: 40 }, (_, i) => `  t${i}: {unit: u}\n`).join("")}`,
    "many.yaml",
  );
  const r = decodeReading(
    '{"device_id":"d","timestamp":0,"building":"A","floor":1,"type":"x","value":1}',
    { catalogue: many },
  );
  assert.ok(!r.ok && r.reason === "unknown_type");
  if (!r.ok) assert.match(r.detail, /t0, t1, .*t11, … \(40 types\)$/);
  const ok = decodeReading(
    '{"device_id":"d","timestamp":0,"building":"A","floor":1,"type":"t39","value":1}',
    { catalogue: many },
  );
  assert.ok(ok.ok && ok.reading.unit === "u");
});
