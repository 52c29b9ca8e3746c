-- Decodes `raw_payloads` (rec INTEGER, payload VARCHAR) into `sql_decoded`: per payload either
-- the one reading the JavaScript decoder (src/reading/decode.ts) would produce — event time in
-- epoch ms, device, building, floor, type, value in the catalogue's canonical unit (a join on
-- sensor_units/sensor_types), unit — or needs_js = true. The SQL path decides only what it can
-- decide exactly as JavaScript does: a narrow, valid reading, through the catalogue's field
-- aliases. Everything else — rejects (their reason and detail are the reference decoder's),
-- wide payloads, JSON that DuckDB accepts and JSON.parse does not (trailing commas, NaN,
-- Infinity), duplicate keys (JSON.parse keeps the last, DuckDB the first), catalogue columns,
-- a leading BOM — is needs_js. src/pipeline/sql_decode_test.ts holds the two decoders equal.
-- Parameters: $1 ingest clock (epoch ms), $2 future tolerance (ms), $3 payload byte limit.
CREATE OR REPLACE TEMP TABLE sql_decoded AS
WITH plain AS (
  -- Payloads DuckDB's JSON reader and JSON.parse agree on: anything doubtful is left to JS.
  SELECT rec, payload,
    strlen(payload) <= $3
      AND NOT starts_with(payload, chr(65279))
      AND NOT regexp_matches(payload, ',\s*[}\]]|[:\[,]\s*[-+]?(?:[NIi]|n[aA])')
      AND json_valid(payload) AS ok
  FROM raw_payloads
),
doc AS (
  SELECT rec, payload, json_keys(payload) AS keys,
    json_extract(payload, getvariable('decode_paths')) AS v
  FROM plain
  WHERE ok AND json_type(payload) = 'OBJECT'
),
-- Per field, the first alias whose value is present (not JSON null).
fields AS (
  SELECT rec, payload, keys,
    decode_first_present(v, ix['type']) AS type_j,
    decode_first_present(v, ix['device_id']) AS device_j,
    decode_first_present(v, ix['building']) AS building_j,
    decode_first_present(v, ix['floor']) AS floor_j,
    decode_first_present(v, ix['timestamp']) AS ts_j,
    decode_first_present(v, ix['value']) AS value_j,
    decode_first_present(v, ix['unit']) AS unit_j
  FROM doc, (SELECT getvariable('decode_ix') AS ix)
),
typed AS (
  SELECT rec, payload,
    len(keys) = len(list_distinct(keys)) AND NOT list_has_any(keys, getvariable('decode_js_roots'))
      AS simple,
    CASE WHEN json_type(type_j) = 'VARCHAR' THEN type_j ->> '$' END AS type,
    CASE WHEN json_type(device_j) = 'VARCHAR' THEN device_j ->> '$' END AS device_id,
    CASE WHEN json_type(building_j) = 'VARCHAR' THEN building_j ->> '$' END AS building,
    CASE WHEN json_type(floor_j) IN ('BIGINT', 'UBIGINT', 'DOUBLE')
      THEN TRY_CAST(floor_j::VARCHAR AS DOUBLE) END AS floor_d,
    CASE WHEN json_type(value_j) IN ('BIGINT', 'UBIGINT', 'DOUBLE')
      THEN TRY_CAST(value_j::VARCHAR AS DOUBLE) END AS raw_value,
    unit_j IS NULL AS no_unit,
    CASE WHEN json_type(unit_j) = 'VARCHAR' THEN unit_j ->> '$' END AS unit_s,
    CASE WHEN json_type(ts_j) IN ('BIGINT', 'UBIGINT', 'DOUBLE')
      THEN TRY_CAST(ts_j::VARCHAR AS DOUBLE) END AS ts_num,
    CASE WHEN json_type(ts_j) = 'VARCHAR' THEN ts_j ->> '$' END AS ts_str
  FROM fields
),
-- ISO-8601 as src/reading/timestamps.ts reads it; a text it would refuse does not match.
iso AS (
  SELECT *, CASE WHEN strlen(ts_str) BETWEEN 16 AND 40 THEN regexp_extract(ts_str,
    '^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)?$',
    ['y', 'mo', 'd', 'h', 'mi', 's', 'f', 'sign', 'oh', 'om']) END AS p
  FROM typed
),
iso_parts AS (
  SELECT *,
    nullif(p.y, '')::INTEGER AS y, nullif(p.mo, '')::INTEGER AS mo, nullif(p.d, '')::INTEGER AS d,
    nullif(p.h, '')::INTEGER AS h, nullif(p.mi, '')::INTEGER AS mi,
    coalesce(nullif(p.s, '')::INTEGER, 0) AS s,
    coalesce(rpad(left(nullif(p.f, ''), 3), 3, '0')::INTEGER, 0) AS frac,
    CASE p.sign WHEN '-' THEN -1 ELSE 1 END
      * (coalesce(nullif(p.oh, '')::INTEGER, 0) * 60 + coalesce(nullif(p.om, '')::INTEGER, 0))
      AS off_min,
    coalesce(nullif(p.oh, '')::INTEGER, 0) <= 23 AND coalesce(nullif(p.om, '')::INTEGER, 0) <= 59
      AS off_ok
  FROM iso
),
times AS (
  SELECT *,
    CASE
      WHEN ts_num IS NOT NULL AND isfinite(ts_num) THEN
        CASE WHEN abs(ts_num) < 1e11 THEN decode_js_round(ts_num * 1000) ELSE floor(ts_num) END
      WHEN y IS NOT NULL AND off_ok AND mo BETWEEN 1 AND 12 AND h <= 23 AND mi <= 59 AND s <= 59
        AND d >= 1 AND d <= CASE
          WHEN mo = 2 THEN CASE WHEN (y % 4 = 0 AND y % 100 <> 0) OR y % 400 = 0 THEN 29 ELSE 28 END
          WHEN mo IN (4, 6, 9, 11) THEN 30 ELSE 31 END
      THEN ((decode_days_from_civil(y, mo, d) * 24 + h) * 60 + mi - off_min) * 60000
        + s * 1000 + frac
    END AS ts_ms
  FROM iso_parts
),
readings AS (
  SELECT t.rec, t.ts_ms, t.device_id, t.building, t.floor_d, st.type, st.unit,
    CASE WHEN t.no_unit OR (u.scale = 1 AND u."offset" = 0) THEN t.raw_value
      ELSE decode_js_round((t.raw_value * u.scale + u."offset") * 1e6) / 1e6 END AS value,
    st.range_min, st.range_max,
    t.simple AND (t.no_unit OR u.type IS NOT NULL)
      -- DuckDB reads the integer -0 as 0, JSON.parse as -0: a zero value decides in SQL only
      -- when the payload holds no such token.
      AND (t.raw_value <> 0 OR NOT regexp_matches(t.payload, '[:\[,]\s*-0+(?:[^.0-9eE]|$)'))
      AS unit_ok
  FROM times t
  JOIN sensor_types st ON st.type = t.type
  LEFT JOIN sensor_units u ON u.type = t.type AND u.spelling = t.unit_s
  WHERE t.simple
),
decided AS (
  SELECT rec, ts_ms::BIGINT AS ts, device_id, building, floor_d::INTEGER AS floor, type, value, unit
  FROM readings
  WHERE unit_ok
    AND regexp_full_match(device_id, '[A-Za-z0-9][A-Za-z0-9_.-]{0,63}')
    AND regexp_full_match(building, '[A-Za-z0-9][A-Za-z0-9_.-]{0,63}')
    AND floor_d = floor(floor_d) AND floor_d BETWEEN -10 AND 300
    AND ts_ms >= 0 AND ts_ms < 4133980800000 AND ts_ms <= $1 + $2
    AND isfinite(value) AND (range_min IS NULL OR value >= range_min)
    AND (range_max IS NULL OR value <= range_max)
)
SELECT r.rec, d.rec IS NULL AS needs_js, d.ts, d.device_id, d.building, d.floor, d.type,
  d.value, d.unit
FROM raw_payloads r LEFT JOIN decided d ON d.rec = r.rec;
