-- Dashboard overview: the current condition of every floor, per sensor type, with its comfort band.
--
-- Parameters: $now (TIMESTAMPTZ as text) = the newest event time in silver. The dashboard uses
-- data time, not wall time, so a replayed or simulated lakehouse still shows "current" values.
--
-- Value per floor and type:
--   a level (the catalogue's aggregate 'mean': temperature, humidity, co2, …): each device's
--     newest reading in the 15 minutes up to $now, then the mean over the floor's devices of
--     that type (a device silent for longer drops out);
--   a counter (aggregate 'sum': energy): the amount on the floor in the hour up to $now (sum of
--     the meters' readings, see the energy assumption in sql/gold: a reading is the kWh since
--     the meter's previous one).
--
-- Comfort bands (edit the `comfort` rows to change them; bounds are inclusive). A type without
-- a row there is judged by its alarm limits (the catalogue's alarm_thresholds): good inside the
-- warning band, fair inside the critical band; a type without limits has no band ('none').
--   temperature °C  good 20–24    fair 18–26     otherwise poor   (office comfort, EN 16798-1 II/III)
--   humidity %      good 30–60    fair 25–70     otherwise poor
--   co2 ppm         good ≤ 800    fair ≤ 1200    otherwise poor   (≈ 400 ppm outdoor + 400 / + 800)
--   energy          no band ('none')
WITH comfort(type, good_lo, good_hi, fair_lo, fair_hi) AS (
  VALUES ('temperature', 20.0, 24.0, 18.0, 26.0),
         ('humidity', 30.0, 60.0, 25.0, 70.0),
         ('co2', 0.0, 800.0, 0.0, 1200.0)
),
bands AS (
  SELECT * FROM comfort
  UNION ALL
  SELECT type, warn_low, warn_high, crit_low, crit_high FROM alarm_thresholds
  WHERE type NOT IN (SELECT type FROM comfort)
    AND (warn_low IS NOT NULL OR warn_high IS NOT NULL)
),
counters AS (
  SELECT type FROM sensor_types WHERE aggregate = 'sum'
),
-- One pass over the hour, one row per device: the hour's rows are never materialised (a CTE
-- read twice would be, and its size grows with the hour: ~3 million rows after 10 minutes at
-- 5,000 msg/s, the dashboard's RSS with it). per_device has a row per device, read twice.
per_device AS (
  SELECT building, floor, type, device_id, any_value(unit) AS unit,
         arg_max(value, timestamp) FILTER (
           WHERE timestamp > $now::TIMESTAMPTZ - INTERVAL 15 MINUTE) AS latest,
         max(timestamp) FILTER (
           WHERE timestamp > $now::TIMESTAMPTZ - INTERVAL 15 MINUTE) AS latest_seen,
         sum(value) AS total, max(timestamp) AS last_seen
  FROM silver
  WHERE timestamp > $now::TIMESTAMPTZ - INTERVAL 1 HOUR AND timestamp <= $now::TIMESTAMPTZ
  GROUP BY ALL
),
per_floor AS (
  SELECT building, floor, type, any_value(unit) AS unit, avg(latest) AS value,
         max(latest_seen) AS last_seen, count(*) AS devices
  FROM per_device
  WHERE type NOT IN (SELECT type FROM counters) AND latest_seen IS NOT NULL
  GROUP BY ALL
  UNION ALL
  SELECT building, floor, type, any_value(unit) AS unit, sum(total) AS value,
         max(last_seen) AS last_seen, count(*) AS devices
  FROM per_device
  WHERE type IN (SELECT type FROM counters)
  GROUP BY ALL
)
SELECT p.building, p.floor, p.type, p.unit,
       round(p.value, 2)::DOUBLE AS value,
       epoch_ms(p.last_seen)::DOUBLE AS last_seen_ms,
       p.devices::INTEGER AS devices,
       CASE
         WHEN b.type IS NULL THEN 'none'
         WHEN p.value BETWEEN coalesce(b.good_lo, '-inf'::DOUBLE)
           AND coalesce(b.good_hi, 'inf'::DOUBLE) THEN 'good'
         WHEN p.value BETWEEN coalesce(b.fair_lo, '-inf'::DOUBLE)
           AND coalesce(b.fair_hi, 'inf'::DOUBLE) THEN 'fair'
         ELSE 'poor'
       END AS band
FROM per_floor p LEFT JOIN bands b USING (type)
ORDER BY p.building, p.floor, p.type;
