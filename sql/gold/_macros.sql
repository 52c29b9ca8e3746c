-- Helpers used by the gold tables and the alarm rules (not a table).
--
-- UTC time buckets:
--   utc_minute(ts), utc_hour(ts)   start of the UTC minute / hour of a timestamp
--   utc_bucket(ts, seconds)        start of the UTC bucket of that many seconds (e.g. 900 for
--                                  15 minutes), aligned on 1970-01-01 00:00 UTC
--   utc_day(ts)                    UTC day (DATE) of a timestamp
-- They give exactly what date_trunc / time_bucket / CAST(... AS DATE) give in the UTC session,
-- but as plain arithmetic on epoch microseconds: DuckDB sends date_trunc on a TIMESTAMPTZ
-- through the ICU calendar, which costs about 0.4 microseconds per reading (4 s over 10M
-- readings) against a few nanoseconds here. Every event time in the lakehouse is UTC.
CREATE OR REPLACE TEMP MACRO utc_bucket(ts, seconds) AS
  to_timestamp(floor(epoch_us(ts) / (seconds * 1000000.0)) * seconds);

CREATE OR REPLACE TEMP MACRO utc_minute(ts) AS utc_bucket(ts, 60);

CREATE OR REPLACE TEMP MACRO utc_hour(ts) AS utc_bucket(ts, 3600);

CREATE OR REPLACE TEMP MACRO utc_day(ts) AS
  DATE '1970-01-01' + CAST(floor(epoch_us(ts) / 86400000000) AS INTEGER);

-- Exact continuous quantile of an ascending list (what quantile_cont gives over the same values,
-- bit for bit): at 0-based position p = (n - 1) x q of the n values, with i = floor(p) and
-- f = p - i, it is value[i] x (1 - f) + value[i + 1] x f. Device-minutes keep their values sorted (sql/gold/_device_minutes.sql)
-- so that floor-minutes are computed from them exactly, without reading silver again.
CREATE OR REPLACE TEMP MACRO quantile_position(n, q) AS (n - 1) * CAST(q AS DOUBLE);

CREATE OR REPLACE TEMP MACRO quantile_sorted(sorted_values, q) AS
  sorted_values[1 + CAST(floor(quantile_position(len(sorted_values), q)) AS BIGINT)]
    * (1 - (quantile_position(len(sorted_values), q) - floor(quantile_position(len(sorted_values), q))))
  + sorted_values[1 + CAST(ceil(quantile_position(len(sorted_values), q)) AS BIGINT)]
    * (quantile_position(len(sorted_values), q) - floor(quantile_position(len(sorted_values), q)));
