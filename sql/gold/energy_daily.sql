-- gold/energy_daily: kWh consumed per building per UTC day of event time.
--
-- Same assumption as energy_hourly: each energy reading is the kWh of its meter's interval
-- since the previous reading, so a day's energy is the sum of the readings stamped in it.
-- Partitioned by `day`; {{silver}} holds whole days.
SELECT
  utc_day(timestamp) AS day,
  building,
  sum(value) AS kwh,
  count(*) AS readings,
  count(DISTINCT device_id) AS meters
FROM {{silver}}
WHERE type IN (SELECT type FROM energy_types)
GROUP BY ALL
