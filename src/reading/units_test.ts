import assert from "node:assert/strict";
import { CANONICAL_UNITS, denormalise, normalise } from "./units.ts";
import { SENSOR_TYPES } from "./reading.ts";

Deno.test("units: conversions to canonical and back", () => {
  assert.equal(normalise("temperature", 32, "°F"), 0);
  assert.equal(normalise("temperature", 212, "F"), 100);
  assert.equal(normalise("temperature", 273.15, "K"), 0);
  assert.equal(normalise("energy", 250, "Wh"), 0.25);
  assert.equal(normalise("humidity", 40, "%"), 40);
  assert.equal(normalise("humidity", 40, "ppm"), undefined);
  assert.equal(normalise("co2", 40, "toString"), undefined);
  for (const type of SENSOR_TYPES) assert.equal(normalise(type, 7, CANONICAL_UNITS[type]), 7);
  for (
    const [type, unit] of [["temperature", "°F"], ["temperature", "K"], ["energy", "Wh"]] as const
  ) {
    for (const v of [-12.34, 0, 22.45, 0.001234]) {
      assert.equal(normalise(type, denormalise(type, v, unit), unit), v, `${type} ${unit} ${v}`);
    }
  }
});
