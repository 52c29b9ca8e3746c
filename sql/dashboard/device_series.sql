-- Dashboard drill-down: one device's own line over the chart window, bucketed as series.sql.
--
-- Parameters: $now (TIMESTAMPTZ as text, the newest event time in silver), $building (the
-- device's building: silver is partitioned by it), $device, $range_minutes and $bucket_minutes.
-- Value per bucket: the mean reading; for a counter (energy) its rate per hour (as series.sql).
SELECT type,
       epoch_ms(time_bucket(to_minutes($bucket_minutes::INTEGER), timestamp))::DOUBLE AS t_ms,
       round(CASE WHEN type IN (SELECT type FROM sensor_types WHERE aggregate = 'sum')
                  THEN sum(value) * 60.0 / $bucket_minutes::DOUBLE
                  ELSE avg(value) END, 3)::DOUBLE AS value
FROM silver
WHERE building = $building
  AND device_id = $device
  AND timestamp > $now::TIMESTAMPTZ - to_minutes($range_minutes::INTEGER)
  AND timestamp <= $now::TIMESTAMPTZ
GROUP BY type, t_ms
ORDER BY t_ms;
