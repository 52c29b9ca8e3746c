-- gold/energy_hourly: kWh consumed per building per UTC hour of event time.
--
-- Assumption: an energy reading is the energy (kWh, canonical unit) its meter measured during
-- the interval since that meter's previous reading — an interval meter, not a cumulative
-- counter. So the energy of the hour [hour_start, hour_start + 1 h) is the sum of the readings
-- stamped inside it; a missing reading makes the hour read low (see `readings`/`meters` to
-- judge completeness). Partitioned by `day`. The energy types are the catalogue's kWh counters
-- (energy_types, sql/catalogue/tables.sql): `energy` with the brief's catalogue.
-- Input: {{device_minutes}} (sql/gold/_device_minutes.sql) of the hours it rebuilds.
SELECT
  day,
  utc_hour(window_start) AS hour_start,
  building,
  sum(sum) AS kwh,
  sum(count) AS readings,
  count(DISTINCT device_id) AS meters
FROM {{device_minutes}}
WHERE type IN (SELECT type FROM energy_types)
GROUP BY day, utc_hour(window_start), building
