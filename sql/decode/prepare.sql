-- The SQL decoder's per-connection setup (src/pipeline/sql_decode.ts), run after the catalogue
-- tables (sql/catalogue/tables.sql) are filled and `decode_column_paths` holds the dotted paths
-- of the catalogue's `columns:`.

-- Math.round (ties toward +infinity), exactly: the fraction x - floor(x) is exact in binary
-- floating point, where floor(x + 0.5) is not (0.49999999999999994 + 0.5 rounds up to 1).
CREATE OR REPLACE TEMP MACRO decode_js_round(x) AS
  floor(x) + CASE WHEN x - floor(x) >= 0.5 THEN 1 ELSE 0 END;

-- Whether fast.sql may decide payloads of the seven canonical keys: for every reading field,
-- the first of its aliases that is one of those keys is the field itself (else JavaScript would
-- read another key, e.g. an alias `device_id: [building]`), and no catalogue column reads one
-- of them (their typed extras are the JavaScript decoder's).
SET VARIABLE decode_fast = (
  WITH canonical AS (
    SELECT field, arg_min(path, rank) FILTER (WHERE path IN
      ('timestamp', 'device_id', 'building', 'floor', 'type', 'value', 'unit')) AS first_key
    FROM field_aliases GROUP BY field)
  SELECT count(*) = 7 AND bool_and(coalesce(first_key = field, false))
    AND NOT EXISTS (SELECT 1 FROM decode_column_paths WHERE split_part(path, '.', 1) IN
      ('timestamp', 'device_id', 'building', 'floor', 'type', 'value', 'unit'))
  FROM canonical
);
