-- Rule `zscore`: a reading far from its device's recent behaviour, robustly.
-- z = |value - median| / scale, where median is over the device's readings in the trailing
-- hour (strictly before the reading) and scale = max(1.4826 x MAD, z_min_scale,
-- z_min_scale_rel x |median|). MAD is the median, over the same trailing hour, of each reading's
-- absolute deviation from its own trailing median (a rolling MAD that DuckDB computes with two
-- window passes). Warning above `limit` (4), critical above `critical` (8); needs at least
-- `min_readings` (10) readings in the trailing hour. The 1-hour window is the rule's
-- definition; limits are in alarm_settings / alarm_thresholds.
WITH med AS (
  SELECT ts, device_id, building, floor, type, value, next_ts,
    median(value) OVER hour_before AS median,
    count(*) OVER hour_before AS n
  FROM alarm_readings
  WINDOW hour_before AS (PARTITION BY device_id ORDER BY ts
    RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING)
),
mad AS (
  SELECT *, median(abs(value - median)) OVER hour_before AS mad
  FROM med
  WINDOW hour_before AS (PARTITION BY device_id ORDER BY ts
    RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING)
),
z AS (
  SELECT m.*,
    abs(m.value - m.median)
      / greatest(1.4826 * m.mad, t.z_min_scale, t.z_min_scale_rel * abs(m.median), 1e-9) AS z
  FROM mad m
  JOIN alarm_thresholds t USING (type)
  WHERE m.n >= (SELECT value FROM alarm_settings WHERE rule = 'zscore' AND setting = 'min_readings')
)
SELECT
  'zscore' AS rule,
  device_id AS subject, device_id, building, floor, type,
  ts, next_ts AS clear_ts,
  CASE
    WHEN z > (SELECT value FROM alarm_settings WHERE rule = 'zscore' AND setting = 'critical')
      THEN 2 ELSE 1
  END AS level,
  value,
  z AS score,
  (SELECT value FROM alarm_settings WHERE rule = 'zscore' AND setting = 'limit') AS threshold
FROM z
WHERE z > (SELECT value FROM alarm_settings WHERE rule = 'zscore' AND setting = 'limit')
