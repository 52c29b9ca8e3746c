-- gold/floor_1h: one row per building, floor and sensor type per UTC hour of event time.
--
-- Meaning: the conditions on a floor during [window_start, window_start + 1 h), over every
-- reading of that floor's devices of the type: mean, extremes, count, exact 95th percentile
-- (as quantile_cont over all those readings), and how many distinct devices reported.
-- Canonical units (C, %, ppm, kWh). Partitioned by `day`. No thresholds here.
-- Input: {{device_minutes}} (sql/gold/_device_minutes.sql) of the hours it rebuilds, rolled up
-- from device-minutes to floor-hours.
SELECT
  day,
  utc_hour(window_start) AS window_start,
  building,
  floor,
  type,
  sum(sum) / sum(count) AS avg,
  min(min) AS min,
  max(max) AS max,
  sum(count) AS count,
  list_quantile(flatten(list(value_list)), 0.95) AS p95,
  count(DISTINCT device_id) AS devices
FROM {{device_minutes}}
GROUP BY day, utc_hour(window_start), building, floor, type
