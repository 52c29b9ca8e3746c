-- Dashboard time series: one line per floor for a building and sensor type.
--
-- Parameters: $now (TIMESTAMPTZ as text, the newest event time in silver), $building,
-- $range_minutes (60 for "last hour", 1440 for "last 24 h") and $bucket_minutes (1 and 15).
-- Window: ($now − range, $now], bucketed on whole minutes in UTC.
--
-- Value per bucket: the mean reading for a level (the catalogue's aggregate 'mean':
-- temperature °C, humidity %, CO2 ppm, …); for a counter (aggregate 'sum', e.g. energy) its
-- rate per hour = the amount in the bucket × 60 / bucket minutes (kWh → mean power in kW), so
-- the two ranges are on the same scale (a partial last bucket reads low). sensor_types: the
-- catalogue's table (sql/catalogue/tables.sql).
SELECT floor, type,
       epoch_ms(time_bucket(to_minutes($bucket_minutes::INTEGER), timestamp))::DOUBLE AS t_ms,
       round(CASE WHEN type IN (SELECT type FROM sensor_types WHERE aggregate = 'sum')
                  THEN sum(value) * 60.0 / $bucket_minutes::DOUBLE
                  ELSE avg(value) END, 3)::DOUBLE AS value
FROM silver
WHERE building = $building
  AND timestamp > $now::TIMESTAMPTZ - to_minutes($range_minutes::INTEGER)
  AND timestamp <= $now::TIMESTAMPTZ
GROUP BY floor, type, t_ms
ORDER BY type, floor, t_ms;
