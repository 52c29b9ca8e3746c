-- gold/energy_hourly: kWh consumed per building per UTC hour of event time.
--
-- Assumption: an energy reading is the energy (kWh, canonical unit) its meter measured during
-- the interval since that meter's previous reading — an interval meter, not a cumulative
-- counter. So the energy of the hour [hour_start, hour_start + 1 h) is the sum of the readings
-- stamped inside it; a missing reading makes the hour read low (see `readings`/`meters` to
-- judge completeness). Partitioned by `day`; {{silver}} holds whole days.
SELECT
  utc_day(timestamp) AS day,
  utc_hour(timestamp) AS hour_start,
  building,
  sum(value) AS kwh,
  count(*) AS readings,
  count(DISTINCT device_id) AS meters
FROM {{silver}}
WHERE type = 'energy'
GROUP BY ALL
