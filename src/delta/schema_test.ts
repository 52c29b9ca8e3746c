import assert from "node:assert/strict";
import {
  duckdbType,
  parseSchemaString,
  schemasEqual,
  toSchemaString,
  validatePartitionColumns,
} from "./schema.ts";
import { SchemaError } from "./errors.ts";
import { SENSOR_SCHEMA } from "./test_fixtures/common.ts";

Deno.test("schemaString round-trips with nullable and empty metadata on every field", () => {
  const s = toSchemaString(SENSOR_SCHEMA);
  for (const f of JSON.parse(s).fields) assert.deepEqual(f.metadata, {});
  assert.ok(schemasEqual(parseSchemaString(s), SENSOR_SCHEMA));
  assert.equal(duckdbType("timestamp"), "TIMESTAMPTZ");
  assert.equal(duckdbType("integer"), "INTEGER");
});

Deno.test("unsupported or malformed schemas are SchemaErrors naming the field", () => {
  assert.throws(
    () =>
      parseSchemaString(JSON.stringify({
        type: "struct",
        fields: [{ name: "d", type: "decimal(10,2)", nullable: true, metadata: {} }],
      })),
    (e: Error) => e instanceof SchemaError && /"d".*decimal/.test(e.message),
  );
  assert.throws(() => validatePartitionColumns(SENSOR_SCHEMA, ["nope"]), SchemaError);
  assert.throws(
    () => validatePartitionColumns(SENSOR_SCHEMA, ["value"]),
    /unsupported type double/,
  );
  assert.throws(
    () =>
      toSchemaString({
        fields: [{ name: "a", type: "string", nullable: true }, {
          name: "A",
          type: "long",
          nullable: true,
        }],
      }),
    /duplicate/,
  );
});
