-- The SQL decoder's per-connection setup (src/pipeline/sql_decode.ts), run after the catalogue
-- tables (sql/catalogue/tables.sql) are filled and `decode_column_paths` holds the dotted paths
-- of the catalogue's `columns:`. Everything the decoder needs from the catalogue becomes a
-- variable here, so decode.sql's per-row work reads constants (one JSON parse per payload for
-- every alias of every field).

-- Math.round (ties toward +infinity), exactly: the fraction x - floor(x) is exact in binary
-- floating point, where floor(x + 0.5) is not (0.49999999999999994 + 0.5 rounds up to 1).
CREATE OR REPLACE TEMP MACRO decode_js_round(x) AS
  floor(x) + CASE WHEN x - floor(x) >= 0.5 THEN 1 ELSE 0 END;

-- Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), as
-- src/reading/timestamps.ts computes it.
CREATE OR REPLACE TEMP MACRO decode_days_from_civil(y, m, d) AS (
  WITH a AS (SELECT y - (CASE WHEN m <= 2 THEN 1 ELSE 0 END) AS yy),
  b AS (SELECT yy, floor(yy / 400)::BIGINT AS era FROM a),
  c AS (SELECT era, yy - era * 400 AS yoe,
    floor((153 * (m + CASE WHEN m > 2 THEN -3 ELSE 9 END) + 2) / 5)::BIGINT + d - 1 AS doy FROM b)
  SELECT era * 146097 + yoe * 365 + floor(yoe / 4)::BIGINT - floor(yoe / 100)::BIGINT + doy - 719468
  FROM c
);

-- Every alias path of every reading field as one list of JSON paths ('$."meta"."device"'),
-- field by field in rank order; `decode_ix` maps a field to its [first, last] index in it.
SET VARIABLE decode_paths = (
  SELECT list('$' || array_to_string(list_transform(string_split(path, '.'), s -> '."' || s || '"'), '')
    ORDER BY field, rank)
  FROM field_aliases
);
SET VARIABLE decode_ix = (
  SELECT map(list(field ORDER BY field), list([lo, hi] ORDER BY field))
  FROM (
    SELECT field, min(n) AS lo, max(n) AS hi
    FROM (SELECT field, row_number() OVER (ORDER BY field, rank) AS n FROM field_aliases)
    GROUP BY field
  )
);

-- Top-level keys after which the JavaScript decoder must decide: the first segment of every
-- dotted alias (a duplicate key inside that object is read as the last occurrence by
-- JSON.parse, the first by DuckDB) and of every catalogue column (their typed extras are the
-- JavaScript decoder's).
SET VARIABLE decode_js_roots = (
  SELECT coalesce(list(DISTINCT split_part(path, '.', 1)), [])::VARCHAR[]
  FROM (
    SELECT path FROM field_aliases WHERE contains(path, '.')
    UNION ALL SELECT path FROM decode_column_paths
  )
);
