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
-- src/reading/timestamps.ts computes it; plain expressions (a macro holding a query would be
-- a subquery per row).
CREATE OR REPLACE TEMP MACRO decode_days_from_era(era, yoe, doy) AS
  era * 146097 + yoe * 365 + floor(yoe / 4)::BIGINT - floor(yoe / 100)::BIGINT + doy - 719468;
CREATE OR REPLACE TEMP MACRO decode_days_from_year(yy, m, d) AS decode_days_from_era(
  floor(yy / 400)::BIGINT,
  yy - floor(yy / 400)::BIGINT * 400,
  floor((153 * (m + CASE WHEN m > 2 THEN -3 ELSE 9 END) + 2) / 5)::BIGINT + d - 1
);
CREATE OR REPLACE TEMP MACRO decode_days_from_civil(y, m, d) AS
  decode_days_from_year(y - CASE WHEN m <= 2 THEN 1 ELSE 0 END, m, d);

-- The first present value (not JSON null) among the list's [lo, hi] elements: one alias (the
-- common case) is an element read, several a filter.
CREATE OR REPLACE TEMP MACRO decode_first_present(v, lohi) AS CASE
  WHEN lohi[1] = lohi[2] THEN nullif(v[lohi[1]], 'null')
  ELSE list_filter(v[lohi[1]:lohi[2]], x -> x IS NOT NULL AND x <> 'null')[1] END;

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
