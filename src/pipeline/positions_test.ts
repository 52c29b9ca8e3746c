import assert from "node:assert/strict";
import { fileAppId, partitionAppId, partitionOfAppId } from "./positions.ts";

Deno.test("positions: a partition appId reads back to its partition, only for its app and topic", () => {
  const id = partitionAppId("smarttech-ingest", "sensor-data", 12);
  assert.equal(id, "smarttech-ingest-sensor-data-12");
  assert.equal(partitionOfAppId(id, "smarttech-ingest", "sensor-data"), 12);
  assert.equal(partitionOfAppId(id, "smarttech-ingest", "sensor"), null);
  assert.equal(
    partitionOfAppId("smarttech-ingest-sensor-data-1x", "smarttech-ingest", "sensor-data"),
    null,
  );
  assert.equal(
    partitionOfAppId("smarttech-ingest-sensor-data-", "smarttech-ingest", "sensor-data"),
    null,
  );
  const file = fileAppId("a/b.json", new TextEncoder().encode("{}"));
  assert.equal(file.startsWith("file:a/b.json#"), true);
  assert.equal(partitionOfAppId(file, "smarttech-ingest", "sensor-data"), null);
});
