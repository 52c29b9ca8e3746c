-- gold/floor_1h: one row per building, floor and sensor type per UTC hour of event time.
--
-- Meaning: the conditions on a floor during [window_start, window_start + 1 h), over every
-- reading of that floor's devices of the type: mean, extremes, count, exact 95th percentile,
-- and how many distinct devices reported. Canonical units (C, %, ppm, kWh). Partitioned by
-- `day`; {{silver}} holds whole days. No thresholds here.
SELECT
  utc_day(timestamp) AS day,
  utc_hour(timestamp) AS window_start,
  building,
  floor,
  type,
  avg(value) AS avg,
  min(value) AS min,
  max(value) AS max,
  count(*) AS count,
  quantile_cont(value, 0.95) AS p95,
  count(DISTINCT device_id) AS devices
FROM {{silver}}
GROUP BY ALL
