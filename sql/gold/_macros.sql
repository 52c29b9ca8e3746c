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

-- Minute numbers: grouping on the integer minute since the epoch, and turning it into a
-- timestamp and a day once per group instead of once per reading, is what keeps 10M-reading
-- aggregations cheap (a hash on a BIGINT, not on a computed TIMESTAMPTZ).
--   epoch_minute(ts)       UTC minute number of a timestamp (epoch seconds // 60; silver holds
--                          no time before 1970, so integer division is the floor)
--   minute_start(n)        start of minute number n, as a TIMESTAMPTZ
--   minute_day(n)          UTC day (DATE) of minute number n
CREATE OR REPLACE TEMP MACRO epoch_minute(ts) AS epoch_us(ts) // 60000000;

CREATE OR REPLACE TEMP MACRO minute_start(n) AS to_timestamp(n * 60);

CREATE OR REPLACE TEMP MACRO minute_day(n) AS DATE '1970-01-01' + CAST(n // 1440 AS INTEGER);

-- seconds_between(a, b): b - a in seconds (DOUBLE), from epoch microseconds. epoch() on a
-- TIMESTAMPTZ goes through the ICU calendar (~0.1 microsecond a call, twice per reading in the
-- alarm rules); this is integer arithmetic, and exact.
CREATE OR REPLACE TEMP MACRO seconds_between(a, b) AS (epoch_us(b) - epoch_us(a)) / 1000000.0;

-- The series an alarm follows: one device's readings of one type. A device may report several
-- types (a combined temperature/humidity sensor); their readings are separate series (as for
-- dedup), never compared with each other.
CREATE OR REPLACE TEMP MACRO series_subject(device_id, type) AS device_id || '|' || type;

-- Exact continuous quantile of a list of values: what quantile_cont gives over the same values,
-- bit for bit, in any order. Device-minutes keep their readings' values as a list
-- (sql/gold/_device_minutes.sql), so that coarser windows (floor-minutes, hours) take their
-- percentiles over all the readings they cover without reading silver again.
CREATE OR REPLACE TEMP MACRO list_quantile(values_list, q) AS
  list_aggregate(values_list, 'quantile_cont', q);
