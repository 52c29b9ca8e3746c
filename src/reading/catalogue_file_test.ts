import assert from "node:assert/strict";
import {
  builtinCatalogue,
  CatalogueError,
  describeChange,
  loadCatalogue,
  parseCatalogue,
  resolveCatalogue,
} from "./catalogue_file.ts";

const MINIMAL = `types:
  pm25:
    unit: ug/m3
    units: {"µg/m³": {}}
    range: [0, 1000]
    thresholds: {warning: [null, 35], critical: [null, 75], min_duration_s: 300}
fields:
  timestamp: [timestamp, ts]
  device_id: [device_id, deviceId, meta.device]
columns: {battery: double, rssi: {type: integer, from: [rssi, radio.rssi]}}
`;

/** Parses `text` expecting a refusal at `line` whose message contains `fragment`. */
function refuses(text: string, line: number, fragment: string | RegExp): void {
  assert.throws(() => parseCatalogue(text, "s.yaml"), (err: unknown) => {
    assert.ok(err instanceof CatalogueError, String(err));
    assert.equal(err.line, line, err.message);
    assert.equal(err.message.split("\n").length, 1, "one line");
    assert.ok(err.message.startsWith(`s.yaml:${line}: `), err.message);
    if (typeof fragment === "string") assert.ok(err.message.includes(fragment), err.message);
    else assert.match(err.message, fragment);
    return true;
  });
}

Deno.test("catalogue: the repository's file holds today's four types and values", () => {
  const cat = builtinCatalogue();
  assert.deepEqual([...cat.types.keys()], ["temperature", "humidity", "co2", "energy"]);
  const t = cat.types.get("temperature")!;
  assert.equal(t.unit, "C");
  assert.deepEqual([...t.units.keys()], ["C", "°C", "F", "°F", "K"]);
  assert.deepEqual(t.range, [-40, 85]);
  assert.deepEqual(t.thresholds.warning, [18, 28]);
  assert.deepEqual(t.thresholds.critical, [15, 32]);
  assert.equal(t.thresholds.maxStep, 3);
  assert.equal(t.thresholds.zMinScale, 0.3);
  const e = cat.types.get("energy")!;
  assert.equal(e.aggregate, "sum");
  assert.deepEqual(e.units.get("Wh"), { scale: 0.001, offset: 0 });
  assert.equal(e.thresholds.maxStepRatio, 4);
  assert.equal(e.thresholds.zMinScaleRel, 0.1);
  assert.deepEqual(cat.types.get("co2")!.thresholds.critical, [null, 1500]);
  assert.deepEqual(cat.types.get("humidity")!.range, [0, 100]);
  assert.deepEqual(cat.fields.timestamp, [["timestamp"]]);
  assert.deepEqual(cat.columns, []);
});

Deno.test("catalogue: a full example parses (aliases, dotted paths, columns, fractions)", () => {
  const cat = parseCatalogue(MINIMAL, "s.yaml");
  const pm = cat.types.get("pm25")!;
  assert.deepEqual([...pm.units.keys()], ["ug/m3", "µg/m³"]);
  assert.equal(pm.aggregate, "mean");
  assert.deepEqual(pm.thresholds.critical, [null, 75]);
  assert.deepEqual(cat.fields.device_id, [["device_id"], ["deviceId"], ["meta", "device"]]);
  assert.deepEqual(cat.fields.value, [["value"]]);
  assert.deepEqual(cat.columns, [
    { name: "battery", type: "double", paths: [["battery"]] },
    { name: "rssi", type: "integer", paths: [["rssi"], ["radio", "rssi"]] },
  ]);
  assert.equal(cat.source, "s.yaml");
  assert.match(cat.fingerprint, /^[0-9a-f]{16}$/);
  // the fingerprint follows content, not layout or comments
  assert.equal(parseCatalogue(`# hi\n${MINIMAL}`, "x").fingerprint, cat.fingerprint);
  assert.notEqual(
    parseCatalogue(MINIMAL.replace("1000]", "999]"), "x").fingerprint,
    cat.fingerprint,
  );
});

Deno.test("catalogue: JSON is accepted", () => {
  const cat = parseCatalogue(
    JSON.stringify({
      types: { pressure: { unit: "hPa", units: { Pa: { scale: "1/100" } }, range: [800, 1200] } },
      fields: { timestamp: "ts" },
    }),
    "s.json",
  );
  assert.deepEqual(cat.types.get("pressure")!.units.get("Pa"), { scale: 0.01, offset: 0 });
  assert.deepEqual(cat.fields.timestamp, [["ts"]]);
});

Deno.test("catalogue: every refusal names file and line", () => {
  refuses("types:\n  pm25:\n    unit: x\n    colour: red\n", 4, 'unknown key "colour"');
  refuses("types:\n  pm25: {unit: x}\nsensors: {}\n", 3, 'unknown key "sensors"');
  refuses("types:\n  PM25: {unit: x}\n", 2, "must be [a-z][a-z0-9_]{0,63}");
  refuses("types:\n  ../x: {unit: x}\n", 2, "partition value");
  refuses(`types:\n  ${"a".repeat(65)}: {unit: x}\n`, 2, "must be");
  refuses(
    "types:\n  t:\n    unit: C\n    units:\n      F: {scale: 0}\n",
    5,
    'units."F".scale must not be 0',
  );
  refuses(
    "types:\n  t:\n    unit: C\n    units:\n      F: {}\n      F: {scale: 2}\n",
    6,
    "given twice",
  );
  refuses(
    "types:\n  t:\n    unit: C\n    units:\n      C: {offset: 1}\n",
    5,
    "canonical unit",
  );
  refuses(
    "types:\n  t: {unit: C}\nthresholds:\n  pressure: {warning: [1, 2]}\n",
    4,
    'thresholds for unknown type "pressure" (types: t)',
  );
  refuses(
    "types:\n  t: {unit: C, thresholds: {max_step: 1}}\nthresholds:\n  t: {max_step: 2}\n",
    4,
    "also given",
  );
  refuses("types:\n  t:\n    unit: C\n    range: [5, 1]\n", 4, "low 5 > high 1");
  refuses("types:\n  t:\n    unit: C\n    range: [5]\n", 4, "[low, high]");
  refuses("types:\n  t:\n    unit: C\n    aggregate: median\n", 4, "mean or sum");
  refuses("types:\n  t:\n    units: {}\n", 2, "needs unit");
  refuses("types:\n  t: {unit: C}\ncolumns:\n  value: double\n", 4, "built-in column");
  refuses("types:\n  t: {unit: C}\ncolumns:\n  Bad-Name: double\n", 4, "column name");
  refuses("types:\n  t: {unit: C}\ncolumns:\n  battery: float\n", 4, "double, integer, string");
  refuses("types:\n  t: {unit: C}\nfields:\n  colour: [c]\n", 4, 'unknown key "colour"');
  refuses("types:\n  t: {unit: C}\nfields:\n  device_id: [a..b]\n", 4, "empty path segment");
  refuses("types:\n  t: {unit: C}\n  t: {unit: F}\n", 3, "given twice");
  refuses("types:\n  t:\n    unit: C\n   bad indent: 1\n", 4, "not valid YAML");
  refuses('{"types": {"t": {"unit": "C"}}', 1, "not valid YAML/JSON");
  refuses("types: {}\n", 1, "no sensor type");
  refuses("fields: {}\n", 1, "needs types");
  refuses("", 1, "empty");
  refuses("types:\n  t:\n    unit: C\n    thresholds: {max_step: -1}\n", 4, "at least 0");
  refuses("types:\n  t:\n    unit: C\n    thresholds: {warning: [a, 2]}\n", 4, "must be a number");
  refuses("types:\n  t:\n    unit: C\n    simulate: {amplitude: 1}\n", 4, "needs base");
});

Deno.test("catalogue: loadCatalogue names an unreadable file; resolveCatalogue's default", async () => {
  await assert.rejects(
    () => loadCatalogue("/nonexistent/sensors.yaml"),
    (e: unknown) =>
      e instanceof CatalogueError && e.message.startsWith("/nonexistent/sensors.yaml"),
  );
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/s.yaml`;
    await Deno.writeTextFile(path, MINIMAL);
    assert.deepEqual([...(await resolveCatalogue(path)).types.keys()], ["pm25"]);
    // No path, no SENSORS_FILE, no ./sensors.yaml elsewhere: the repository's.
    if (Deno.env.get("SENSORS_FILE") === undefined) {
      assert.equal((await resolveCatalogue()).types.size, 4);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("catalogue: describeChange lists types, settings and columns that changed", () => {
  const before = builtinCatalogue();
  const text = Deno.readTextFileSync(before.source)
    .replace("range: [0, 100]", "range: [0, 101]")
    .replace("columns: {}", "columns: {battery: double}")
    .replace(/\n {2}energy:[\s\S]*?flatline_s: 600\n/, "\n  pm25: {unit: ug/m3}\n");
  const after = parseCatalogue(text, "x");
  assert.deepEqual(describeChange(before, after), [
    "types added: pm25",
    "types removed: energy",
    "type humidity changed: range",
    "columns added: battery",
  ]);
  assert.deepEqual(describeChange(before, before), []);
});
