-- gold/readings_1h: one row per device per UTC hour of event time.
--
-- Meaning: what each sensor reported during the minute [window_start, window_start + 1 h):
-- mean, extremes, number of readings and the exact 95th percentile (quantile_cont), in the
-- canonical unit of its type (C, %, ppm, kWh). Partitioned by `day` (UTC day of window_start);
-- a refresh recomputes whole days, so {{silver}} holds every silver reading of the days it
-- rebuilds (and only whole days). No thresholds here.
SELECT
  utc_day(timestamp) AS day,
  utc_hour(timestamp) AS window_start,
  building,
  floor,
  type,
  device_id,
  avg(value) AS avg,
  min(value) AS min,
  max(value) AS max,
  count(*) AS count,
  quantile_cont(value, 0.95) AS p95
FROM {{silver}}
GROUP BY ALL
