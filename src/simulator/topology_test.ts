import assert from "node:assert/strict";
import { buildingName, buildTopology, TopologyError } from "./topology.ts";
import { isSafeIdentifier } from "../reading/decode.ts";

Deno.test("topology: stable, readable ids in building/floor/type/index order", () => {
  const t = buildTopology({ buildings: 2, floors: 2, devicesPerFloor: 2 });
  assert.equal(t.devices.length, 2 * 2 * 4 * 2);
  assert.deepEqual(t.buildings, ["A", "B"]);
  assert.equal(t.devices[0].deviceId, "A-F0-temperature-01");
  assert.equal(t.devices[1].deviceId, "A-F0-temperature-02");
  assert.equal(t.devices.at(-1)!.deviceId, "B-F1-energy-02");
  assert.deepEqual(buildTopology({ buildings: 2, floors: 2, devicesPerFloor: 2 }), t);
  assert.ok(t.devices.every((d, i) => d.ordinal === i && isSafeIdentifier(d.deviceId)));
});

Deno.test("topology: building names past Z and limits", () => {
  assert.deepEqual([0, 25, 26, 27, 701].map(buildingName), ["A", "Z", "AA", "AB", "ZZ"]);
  assert.throws(() => buildTopology({ buildings: 0 }), TopologyError);
  assert.throws(() => buildTopology({ floors: 1.5 }), TopologyError);
  const big = buildTopology({ buildings: 702, floors: 1, devicesPerFloor: 1 });
  assert.ok(big.devices.every((d) => isSafeIdentifier(d.deviceId)));
});
