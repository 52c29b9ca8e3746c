-- The cost of DuckDB's JSON functions alone (bench/decode_sql_bench.ts times each probe over
-- `raw_payloads (rec, payload)`): the floor under fast.sql, which decides exactly as the
-- reference decoder. These do not: seven fixed paths, the simulator's units, no leniency checks.

-- probe: json_valid
CREATE OR REPLACE TEMP TABLE lean_probe AS SELECT rec, json_valid(payload) AS ok FROM raw_payloads;

-- probe: json_extract_string, 7 paths
CREATE OR REPLACE TEMP TABLE lean_probe AS
SELECT rec, json_extract_string(payload, ['$.timestamp', '$.device_id', '$.building', '$.type',
  '$.unit', '$.floor', '$.value']) AS f
FROM raw_payloads WHERE json_valid(payload);

-- probe: lean decode (shape, casts, timestamp, unit join, reason)
CREATE OR REPLACE TEMP TABLE lean_probe AS
WITH units (type, unit, canon, mul, add) AS (VALUES
  ('temperature', 'C', 'C', 1.0, 0.0), ('temperature', 'F', 'C', 5.0 / 9, -32 * 5.0 / 9),
  ('humidity', '%', '%', 1.0, 0.0), ('co2', 'ppm', 'ppm', 1.0, 0.0),
  ('energy', 'kWh', 'kWh', 1.0, 0.0), ('energy', 'Wh', 'kWh', 0.001, 0.0)),
x AS (
  SELECT rec, json_extract_string(payload, ['$.timestamp', '$.device_id', '$.building', '$.type',
    '$.unit', '$.floor', '$.value']) AS f, len(json_keys(payload)) = 7 AS shape
  FROM raw_payloads WHERE json_valid(payload)),
y AS (
  SELECT rec, f[1] AS ts, f[2] AS device_id, f[3] AS building, f[4] AS type, f[5] AS unit,
    TRY_CAST(f[6] AS INTEGER) AS floor, TRY_CAST(f[7] AS DOUBLE) AS value, shape
  FROM x)
SELECT rec, TRY_CAST(ts AS TIMESTAMPTZ) AS ts, device_id, building, y.type, u.canon AS unit,
  value * u.mul + u.add AS value, floor,
  CASE WHEN NOT shape THEN 'needs_js' WHEN u.canon IS NULL THEN 'bad_unit'
    WHEN floor IS NULL OR value IS NULL THEN 'wrong_type' END AS reason
FROM y LEFT JOIN units u ON u.type = y.type AND u.unit = y.unit;

-- probe: from_json, a typed struct
CREATE OR REPLACE TEMP TABLE lean_probe AS
SELECT rec, unnest(from_json(payload, '{"timestamp": "VARCHAR", "device_id": "VARCHAR",
  "building": "VARCHAR", "type": "VARCHAR", "unit": "VARCHAR", "floor": "BIGINT",
  "value": "DOUBLE"}'))
FROM raw_payloads WHERE json_valid(payload);
