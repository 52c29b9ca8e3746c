-- Rule `zscore`: a reading far from its device's recent behaviour, robustly.
-- z = |value - median| / scale, where median is over the device's readings in the trailing
-- hour [ts - 1 h, ts) (strictly before the reading) and scale = max(1.4826 x MAD, z_min_scale,
-- z_min_scale_rel x |median|). MAD is the median, over the same trailing hour, of each reading's
-- absolute deviation from its own trailing median (a rolling MAD: two window passes). Warning
-- above `limit` (4), critical above `critical` (8); needs at least `min_readings` (10) readings
-- in the trailing hour. The 1-hour window is the rule's definition; limits are in
-- alarm_settings / alarm_thresholds (a type with neither z_min_scale nor z_min_scale_rel skips
-- the rule: without a floor, quantisation on a steady signal would read as outliers).
--
-- How it is computed (the result is exact, not an approximation): rolling medians cost tens of
-- seconds over millions of readings, and almost every reading is obviously normal, so
-- 1. screen, per device and 10-minute bucket: a trailing-hour median lies between the lowest
--    and the highest reading of that hour, so no reading of the bucket is further from its
--    median than (highest - lowest) over the bucket and the hour before it; and the scale is
--    never below its floor (z_min_scale, or z_min_scale_rel x the smallest |value| when the
--    values do not change sign). A bucket where highest - lowest <= limit x floor cannot hold
--    an outlier (a 0.1 % margin covers rounding);
-- 2. only the readings of the other (suspect) buckets get the median and MAD above, computed
--    over the readings of the two hours before them — everything their two windows reach.
-- The trailing hour is written `1 HOUR PRECEDING AND CURRENT ROW EXCLUDE GROUP` (the reading
-- and any other at the same instant left out): the same frame as ending 1 microsecond before
-- the reading, which DuckDB evaluates several times slower.
WITH settings AS (
  SELECT
    (SELECT value FROM alarm_settings WHERE rule = 'zscore' AND setting = 'limit') AS z_limit,
    (SELECT value FROM alarm_settings WHERE rule = 'zscore' AND setting = 'critical') AS z_critical,
    (SELECT value FROM alarm_settings WHERE rule = 'zscore' AND setting = 'min_readings') AS min_readings
),
-- Step 1: the screen.
buckets AS (
  SELECT device_id, type, utc_bucket(ts, 600) AS bucket, min(value) AS low, max(value) AS high
  FROM alarm_readings
  GROUP BY ALL
),
spans AS (
  SELECT device_id, type, bucket,
    min(low) OVER bucket_and_hour_before AS low,
    max(high) OVER bucket_and_hour_before AS high
  FROM buckets
  WINDOW bucket_and_hour_before AS (PARTITION BY device_id, type ORDER BY bucket
    RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND CURRENT ROW)
),
suspect_buckets AS (
  SELECT s.device_id, s.type, s.bucket
  FROM spans s
  JOIN alarm_thresholds t USING (type)
  CROSS JOIN settings
  WHERE (t.z_min_scale IS NOT NULL OR t.z_min_scale_rel IS NOT NULL)
    AND (s.high - s.low) * 1.001 > settings.z_limit * greatest(
    t.z_min_scale,
    t.z_min_scale_rel * CASE WHEN s.low > 0 THEN s.low WHEN s.high < 0 THEN -s.high ELSE 0 END,
    1e-9)
),
-- Step 2: the rule itself, over the suspect buckets and the two hours before each.
context AS (
  SELECT r.*, utc_bucket(r.ts, 600) AS bucket
  FROM alarm_readings r
  SEMI JOIN (
    SELECT DISTINCT device_id, type, bucket - to_minutes(10 * k) AS bucket
    FROM suspect_buckets, range(13) AS back(k)
  ) c ON c.device_id = r.device_id AND c.type = r.type AND c.bucket = utc_bucket(r.ts, 600)
),
med AS (
  SELECT ts, bucket, device_id, building, floor, type, value, next_ts,
    median(value) OVER hour_before AS median,
    count(*) OVER hour_before AS n
  FROM context
  WINDOW hour_before AS (PARTITION BY device_id, type ORDER BY ts
    RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND CURRENT ROW EXCLUDE GROUP)
),
mad AS (
  SELECT *, median(abs(value - median)) OVER hour_before AS mad
  FROM med
  WINDOW hour_before AS (PARTITION BY device_id, type ORDER BY ts
    RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND CURRENT ROW EXCLUDE GROUP)
),
z AS (
  SELECT m.*,
    abs(m.value - m.median)
      / greatest(1.4826 * m.mad, t.z_min_scale, t.z_min_scale_rel * abs(m.median), 1e-9) AS z
  FROM mad m
  SEMI JOIN suspect_buckets s
    ON s.device_id = m.device_id AND s.type = m.type AND s.bucket = m.bucket
  JOIN alarm_thresholds t USING (type)
  CROSS JOIN settings
  WHERE m.n >= settings.min_readings
)
SELECT
  'zscore' AS rule,
  series_subject(device_id, type) AS subject, device_id, building, floor, type,
  ts, next_ts AS clear_ts,
  CASE WHEN z > settings.z_critical THEN 2 ELSE 1 END AS level,
  value,
  z AS score,
  settings.z_limit AS threshold,
  (SELECT value FROM alarm_settings WHERE rule = 'zscore' AND setting = 'min_duration_s')
    AS min_duration_s
FROM z, settings
WHERE z > settings.z_limit
