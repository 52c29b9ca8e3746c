-- gold/readings_1h: one row per device per UTC hour of event time.
--
-- Meaning: what each sensor reported during the hour [window_start, window_start + 1 h):
-- mean, extremes, number of readings and the exact 95th percentile (as quantile_cont over the
-- hour's readings), in the canonical unit of its type (C, %, ppm, kWh). Partitioned by `day`
-- (UTC day of window_start); a refresh recomputes the hours new silver touched. No thresholds
-- here.
-- Input: {{device_minutes}} (sql/gold/_device_minutes.sql) of the hours it rebuilds, rolled up
-- from minutes to hours.
SELECT
  day,
  utc_hour(window_start) AS window_start,
  building,
  floor,
  type,
  device_id,
  sum(sum) / sum(count) AS avg,
  min(min) AS min,
  max(max) AS max,
  sum(count) AS count,
  list_quantile(flatten(list(value_list)), 0.95) AS p95
FROM {{device_minutes}}
GROUP BY day, utc_hour(window_start), building, floor, type, device_id
