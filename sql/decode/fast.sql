-- The SQL decoder (src/pipeline/sql_decode.ts `runSqlDecode`; issue 27): decodes `raw_payloads`
-- (rec INTEGER, payload VARCHAR) into `sql_decoded`, a row per payload it decides, for the one
-- shape that nearly every message has — a JSON object of exactly the seven reading fields
-- (timestamp, device_id, building, floor, type, value, unit), each spelled as the catalogue
-- reads it first — and leaves everything else to the reference decoder (src/reading/decode.ts):
-- no row in sql_decoded. What it decides it decides as JavaScript would (sql_decode_test.ts
-- holds the two equal on the hostile catalogue, the catalogue cases and random payloads):
--   * a valid reading, its value in the catalogue's canonical unit (sensor_units, rounded to
--     1e-6 as units.ts does for a real conversion); reason NULL;
--   * `future_timestamp`, with the reference decoder's detail text, so a fleet whose clocks
--     run ahead costs what a valid one does.
-- Any other outcome — every other reason, wide payloads, aliases, catalogue columns, epoch or
-- zoneless timestamps, JSON DuckDB reads differently from JSON.parse — is needs_js.
-- One JSON parse to validate, one for the keys and the seven values, and small parses of the
-- values themselves; the catalogue is a join, so 40 types cost what 4 do.
-- Two statements (a struct's fields used in a filter are pushed below the unnest and parse the
-- payload again per field: the first statement's table keeps them parsed once). Parameters:
-- $now ingest clock (epoch ms), $tolerance future tolerance (ms), $max_bytes payload byte
-- limit, $detail_tail the end of a future detail, e.g. ' s ahead of the ingest clock
-- (2026-…Z; tolerance 300 s)': detail = 'timestamp "<ts>" is ' || seconds || $detail_tail.
-- A compact JSON object that DuckDB's reader and JSON.parse read alike (a trailing comma is
-- DuckDB's leniency; NaN and Infinity fail the value patterns below), with seven keys:
-- anything doubtful is left to JavaScript.
-- unnest: the struct's fields become columns once (a struct expression would be inlined,
-- and parsed again, wherever a field is used).
CREATE OR REPLACE TEMP TABLE fast_fields AS
SELECT rec, payload, unnest(from_json(payload, '{"timestamp": "JSON", "device_id": "JSON",
  "building": "JSON", "floor": "JSON", "type": "JSON", "value": "JSON", "unit": "JSON"}'))
FROM raw_payloads
WHERE getvariable('decode_fast')
  AND strlen(payload) <= $max_bytes
  AND starts_with(payload, '{') AND ends_with(payload, '}') AND NOT ends_with(payload, ',}')
  -- json_keys only once the payload is known valid (a filter's terms may run in any order).
  AND CASE WHEN json_valid(payload) THEN len(json_keys(payload)) = 7 ELSE false END;

CREATE OR REPLACE TEMP TABLE sql_decoded AS
-- One pattern over the five fields decodeCommon checks (and the value's), as JSON text: a
-- string that matches holds no escape, so its text between the quotes is its value. Only the
-- `Z` and `±hh:mm` ISO forms to the second or millisecond: the cast reads them exactly as
-- timestamps.ts does once the pattern holds (a day the month lacks fails the cast).
WITH shaped AS (
  SELECT rec, payload, timestamp[2:-2] AS ts_s, device_id[2:-2] AS device_id,
    building[2:-2] AS building, floor::VARCHAR::INTEGER AS floor, type[2:-2] AS type_s,
    TRY_CAST(value::VARCHAR AS DOUBLE) AS raw_value,
    CASE WHEN starts_with(unit, '"') THEN unit[2:-2] END AS unit_s
  FROM fast_fields
  -- Seven keys, all seven fields: no other key, no duplicate.
  WHERE timestamp IS NOT NULL AND device_id IS NOT NULL AND building IS NOT NULL
    AND floor IS NOT NULL AND type IS NOT NULL AND value IS NOT NULL AND unit IS NOT NULL
    AND regexp_full_match(concat_ws(',', timestamp, device_id, building, floor, type,
      value),
    '"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,3})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)",'
    || '"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}","[A-Za-z0-9][A-Za-z0-9_.-]{0,63}",-?\d{1,3},'
    || '"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}",-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?')
),
common AS (
  SELECT t.rec, t.payload, t.ts_s, t.device_id, t.building, t.floor, t.raw_value, t.unit_s,
    st.type, st.unit, st.range_min, st.range_max,
    epoch_ms(TRY_CAST(t.ts_s AS TIMESTAMPTZ)) AS ts_ms
  FROM shaped t
  JOIN sensor_types st ON st.type = t.type_s
  WHERE t.floor BETWEEN -10 AND 300
),
decided AS (
  SELECT c.rec, c.ts_s, c.ts_ms, c.device_id, c.building, c.floor, c.type, c.unit,
    CASE WHEN u.scale = 1 AND u."offset" = 0 THEN c.raw_value
      ELSE decode_js_round((c.raw_value * u.scale + u."offset") * 1e6) / 1e6 END AS value,
    c.range_min, c.range_max, u.type IS NOT NULL AS unit_known,
    -- DuckDB reads the integer -0 as 0, JSON.parse as -0: a zero value decides in SQL only
    -- when the payload holds no such token.
    c.raw_value <> 0 OR NOT regexp_matches(c.payload, '[:\[,]\s*-0+(?:[^.0-9eE]|$)') AS zero_ok,
    c.ts_ms > $now + $tolerance AS future
  FROM common c
  LEFT JOIN sensor_units u ON u.type = c.type AND u.spelling = c.unit_s
    AND NOT contains(u.spelling, '\') AND NOT contains(u.spelling, '"')
  WHERE c.ts_ms >= 0 AND c.ts_ms < 4133980800000 AND isfinite(c.raw_value)
),
outcome AS (
  SELECT rec, ts_ms::BIGINT AS ts, device_id, building, floor, type,
    CASE WHEN future THEN NULL ELSE value END AS value, unit,
    CASE WHEN future THEN 'future_timestamp' END AS reason,
    CASE WHEN future THEN 'timestamp "' || ts_s || '" is '
      || decode_js_round((ts_ms - $now) / 1000)::BIGINT || $detail_tail END AS detail
  FROM decided
  WHERE future
    OR (unit_known AND zero_ok AND isfinite(value) AND (range_min IS NULL OR value >= range_min)
      AND (range_max IS NULL OR value <= range_max))
)
-- Only the payloads decided: a record of raw_payloads without a row here is JavaScript's.
SELECT * FROM outcome;
