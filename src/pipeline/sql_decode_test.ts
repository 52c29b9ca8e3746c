/**
 * The SQL decoder against the reference (src/reading/decode.ts): every payload of the hostile
 * catalogue, the catalogue cases, and thousands of random and simulator payloads (valid and
 * faulty) must give the same reading, or be left to JavaScript (`needs_js`), which then gives
 * the reference's reading or reason by construction. Also: the SQL path must decide the common
 * shape itself (else it would be equal by never deciding).
 */
import assert from "node:assert/strict";
import { openDuckDB } from "../duckdb/engine.ts";
import type { SensorCatalogue } from "../reading/catalogue.ts";
import { builtinCatalogue, parseCatalogue } from "../reading/catalogue_file.ts";
import { decodeMessage } from "../reading/decode.ts";
import {
  CASES_SENSORS_YAML,
  CATALOGUE_MAX_BYTES,
  HOSTILE_CASES,
  SENSOR_CATALOGUE_CASES,
} from "../reading/hostile_cases.ts";
import { randomPayloads, simulatorPayloads } from "./sql_decode_payloads.ts";
import { prepareSqlDecode, sqlDecodeTexts } from "./sql_decode.ts";

const NOW = Date.UTC(2026, 11, 7, 12);
const PARAMS = { nowMs: NOW, futureToleranceMs: 300_000, maxBytes: CATALOGUE_MAX_BYTES };
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Texts as the pipeline hands them to SQL: bytes that are not UTF-8 never reach it. */
function asText(p: string | Uint8Array): string | null {
  if (typeof p === "string") return p;
  try {
    return strict.decode(p);
  } catch {
    return null;
  }
}

/** Decodes `payloads` both ways; asserts agreement; returns how many SQL decided. */
async function compare(
  cat: SensorCatalogue,
  payloads: readonly (string | Uint8Array)[],
  names: readonly string[] = [],
): Promise<{ decided: number; jsValid: number }> {
  const db = await openDuckDB();
  try {
    await prepareSqlDecode(db.conn, cat);
    const texts = payloads.map(asText);
    const sql = await sqlDecodeTexts(db.conn, texts.map((t) => t ?? ""), PARAMS);
    let decided = 0;
    let jsValid = 0;
    const opts = {
      catalogue: cat,
      nowMs: NOW,
      futureToleranceMs: 300_000,
      maxBytes: PARAMS.maxBytes,
    };
    payloads.forEach((payload, i) => {
      const js = decodeMessage(payload, opts);
      if (js.length === 1 && js[0].ok) jsValid++;
      const s = texts[i] === null ? null : sql[i];
      if (s === null) return;
      decided++;
      const label = `${names[i] ?? `#${i}`}: ${String(texts[i]).slice(0, 200)}`;
      assert.equal(js.length, 1, label);
      const r = js[0];
      if (!s.ok) {
        assert.ok(!r.ok, `${label} → SQL ${s.reason}, JS valid`);
        assert.deepEqual(
          { reason: s.reason, detail: s.detail, hints: { building: s.building, type: s.type } },
          { reason: r.reason, detail: r.detail, hints: r.hints },
          label,
        );
        return;
      }
      assert.ok(r.ok, `${label} → SQL valid, JS ${r.ok ? "" : r.reason}`);
      assert.equal(r.extras, null, label);
      // A -0 epoch or floor is JS's -0, stored as the same timestamp / integer as 0.
      const ref = { ...r.reading, timestamp: r.reading.timestamp + 0, floor: r.reading.floor + 0 };
      const { ok: _, ...reading } = s;
      assert.deepEqual(reading, ref, label);
      assert.ok(Object.is(s.value, r.reading.value), `${label}: -0`);
      assert.deepEqual(r.hints, { building: s.building, type: s.type }, label);
    });
    return { decided, jsValid };
  } finally {
    db.close();
  }
}

Deno.test("sql decode: the hostile catalogue gives the reference outcome", async () => {
  const { decided, jsValid } = await compare(
    builtinCatalogue(),
    HOSTILE_CASES.map((c) => c.payload),
    HOSTILE_CASES.map((c) => c.name),
  );
  assert.ok(decided > 0 && decided <= jsValid, `${decided} of ${jsValid}`);
});

Deno.test("sql decode: the catalogue cases (aliases, wide, units, columns)", async () => {
  const cat = parseCatalogue(CASES_SENSORS_YAML, "cases.yaml");
  // Aliases and columns of this catalogue may leave everything to JavaScript: agreement is
  // what counts here.
  await compare(
    cat,
    SENSOR_CATALOGUE_CASES.map((c) => c.payload),
    SENSOR_CATALOGUE_CASES.map((c) => c.name),
  );
});

Deno.test("sql decode: random payloads, two catalogues", async () => {
  for (const cat of [builtinCatalogue(), parseCatalogue(CASES_SENSORS_YAML, "cases.yaml")]) {
    const payloads = randomPayloads(cat, 4000, 27);
    const { decided } = await compare(cat, payloads);
    // Random pieces seldom make the canonical shape; the simulator's test below covers it.
    if (cat === builtinCatalogue()) assert.ok(decided > 50, `${decided} decided in SQL`);
  }
});

Deno.test("sql decode: simulator payloads, valid and faulty; SQL decides the common shape", async () => {
  const payloads = simulatorPayloads(4000, 7, NOW);
  const { decided, jsValid } = await compare(builtinCatalogue(), payloads);
  // Only the faults' and the timestamp encodings' odd cases may fall back.
  assert.ok(decided >= jsValid * 0.9, `${decided} decided in SQL of ${jsValid} valid`);
});

Deno.test("sql decode: readings stamped ahead are future_timestamp in SQL, as in JS", async () => {
  const payloads = simulatorPayloads(2000, 11, NOW + 2 * 86_400_000);
  const { decided, jsValid } = await compare(builtinCatalogue(), payloads);
  assert.equal(jsValid, 0);
  assert.ok(decided >= payloads.length * 0.9, `${decided} of ${payloads.length} decided in SQL`);
});
