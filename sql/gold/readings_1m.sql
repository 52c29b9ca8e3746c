-- gold/readings_1m: one row per device per UTC minute of event time.
--
-- Meaning: what each sensor reported during the minute [window_start, window_start + 1 min):
-- mean, extremes, number of readings and the exact 95th percentile (as quantile_cont), in the
-- canonical unit of its type (C, %, ppm, kWh). Partitioned by `day` (UTC day of window_start);
-- a refresh recomputes the hours new silver touched. No thresholds here.
-- Input: {{device_minutes}} (sql/gold/_device_minutes.sql) of the hours it rebuilds.
SELECT
  day,
  window_start,
  building,
  floor,
  type,
  device_id,
  sum / count AS avg,
  min,
  max,
  count,
  list_quantile(value_list, 0.95) AS p95
FROM {{device_minutes}}
