-- Rule `energy_baseline`: a building using far more energy than usual for that time of week.
-- Per building and 15-minute bucket of event time, the mean kWh per reading of its energy types
-- (energy_types: the catalogue's kWh counters, sql/catalogue/tables.sql) is compared
-- with the baseline: the median, over the same UTC hour in up to `baseline_weeks` (4) previous
-- weeks, of kWh per reading from gold energy_hourly. Comparing per-reading means (not sums)
-- keeps a missing reading from looking like a drop, assuming meters report at a steady
-- interval. Warning above `factor` (2x), critical above `critical_factor` (3x). No baseline
-- (less than a week of history) means no alarm. Building-level: device_id and floor are null;
-- type is the building's energy type (the first by name if a catalogue has several).
-- peak_value: the highest ratio; readings: violating buckets.
WITH settings AS (
  SELECT
    (SELECT value FROM alarm_settings WHERE rule = 'energy_baseline' AND setting = 'factor') AS factor,
    (SELECT value FROM alarm_settings WHERE rule = 'energy_baseline' AND setting = 'critical_factor') AS critical_factor,
    (SELECT value FROM alarm_settings WHERE rule = 'energy_baseline' AND setting = 'baseline_weeks') AS weeks
),
buckets AS (
  SELECT building, utc_bucket(ts, 900) AS bucket, avg(value) AS kwh_per_reading,
    min(type::VARCHAR) AS type
  FROM alarm_readings
  WHERE type IN (SELECT type FROM energy_types)
  GROUP BY building, bucket
),
baseline AS (
  SELECT b.building, b.bucket, median(e.kwh / e.readings) AS kwh_per_reading
  FROM buckets b
  CROSS JOIN settings s
  JOIN range(1, 53) AS w(k) ON w.k <= s.weeks
  JOIN {{energy_hourly}} e
    ON e.building = b.building
    AND e.hour_start = utc_hour(b.bucket) - to_days(CAST(7 * w.k AS INTEGER))
    AND e.readings > 0
  GROUP BY b.building, b.bucket
),
ratios AS (
  SELECT b.building, b.bucket, b.type, b.kwh_per_reading / nullif(base.kwh_per_reading, 0) AS ratio
  FROM buckets b
  JOIN baseline base USING (building, bucket)
)
SELECT
  'energy_baseline' AS rule,
  'building:' || building AS subject,
  CAST(NULL AS VARCHAR) AS device_id, building, CAST(NULL AS INTEGER) AS floor, type,
  bucket AS ts, bucket + INTERVAL 15 MINUTE AS clear_ts,
  CASE WHEN ratio > s.critical_factor THEN 2 ELSE 1 END AS level,
  ratio AS value,
  ratio AS score,
  s.factor AS threshold,
  (SELECT value FROM alarm_settings WHERE rule = 'energy_baseline' AND setting = 'min_duration_s')
    AS min_duration_s
FROM ratios, settings s
WHERE ratio > s.factor
