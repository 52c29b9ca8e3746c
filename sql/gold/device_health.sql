-- gold/device_health: one row per device — is it reporting, and how often?
--
-- Evaluated at data time: `as_of` is the newest reading of the device's building (not the wall
-- clock), so replayed or simulated data gives stable answers; never later than the wall clock,
-- so one device clock far ahead cannot make every other device look silent.
--   last_seen            newest reading of the device (ever)
--   readings_last_hour   readings in (as_of - 1 h, as_of]
--   expected_interval_s  median gap between the device's consecutive readings in the last hour
--                        of data (kept from the previous refresh when it has none)
--   silent               as_of - last_seen > max(5 x expected_interval_s, 120 s) — the same
--                        rule as the `silent` alarm (sql/alarms/thresholds.sql)
--   status               'silent'; 'degraded' when the last hour has < 50 % of the readings the
--                        expected interval implies over the building's data in that hour;
--                        else 'ok'
-- Inputs: {{recent}} silver rows at least covering each building's last hour, {{new_rows}}
-- silver rows added since the previous refresh (on a full rebuild: all silver, or its
-- device-minutes each stamped with their last reading — the same newest reading per device)
-- and {{previous}} the previous device_health rows (empty on a full rebuild).
WITH seen AS (
  SELECT device_id, arg_max(building, timestamp) AS building, arg_max(floor, timestamp) AS floor,
    arg_max(type, timestamp) AS type, max(timestamp) AS last_seen
  FROM {{new_rows}}
  GROUP BY device_id
  UNION ALL
  SELECT device_id, building, floor, type, last_seen FROM {{previous}}
),
latest AS (
  SELECT device_id, arg_max(building, last_seen) AS building, arg_max(floor, last_seen) AS floor,
    arg_max(type, last_seen) AS type, max(last_seen) AS last_seen
  FROM seen
  GROUP BY device_id
),
building_now AS (
  SELECT building, least(max(last_seen), now()) AS as_of FROM latest GROUP BY building
),
recent AS (
  SELECT r.device_id, r.building, r.timestamp,
    seconds_between(lag(r.timestamp) OVER (PARTITION BY r.device_id ORDER BY r.timestamp), r.timestamp)
      AS gap_s
  FROM {{recent}} r
  JOIN building_now b ON b.building = r.building
  WHERE r.timestamp > b.as_of - INTERVAL 1 HOUR AND r.timestamp <= b.as_of
),
rates AS (
  SELECT device_id, count(*) AS readings_last_hour, median(gap_s) AS expected_interval_s
  FROM recent
  GROUP BY device_id
),
-- How much of the last hour the building has data for (less at the very start of the data).
building_span AS (
  SELECT b.building, least(3600.0, seconds_between(min(r.timestamp), b.as_of)) AS span_s
  FROM recent r JOIN building_now b USING (building)
  GROUP BY b.building, b.as_of
),
settings AS (
  SELECT
    (SELECT value FROM alarm_settings WHERE rule = 'silent' AND setting = 'interval_factor') AS factor,
    (SELECT value FROM alarm_settings WHERE rule = 'silent' AND setting = 'min_gap_s') AS min_gap_s
),
evaluated AS (
  SELECT l.device_id, l.building, l.floor, l.type, l.last_seen, b.as_of, bs.span_s,
    coalesce(r.readings_last_hour, 0) AS readings_last_hour,
    coalesce(r.readings_last_hour, 0) / 60.0 AS readings_per_minute,
    coalesce(r.expected_interval_s, p.expected_interval_s) AS expected_interval_s,
    seconds_between(l.last_seen, b.as_of) >
      greatest(s.factor * coalesce(r.expected_interval_s, p.expected_interval_s, 0), s.min_gap_s)
      AS silent
  FROM latest l
  JOIN building_now b USING (building)
  CROSS JOIN settings s
  LEFT JOIN building_span bs USING (building)
  LEFT JOIN rates r USING (device_id)
  LEFT JOIN {{previous}} p USING (device_id)
)
SELECT device_id, building, floor, type, last_seen, as_of, readings_last_hour,
  readings_per_minute, expected_interval_s, silent,
  CASE
    WHEN silent THEN 'silent'
    WHEN expected_interval_s > 0 AND span_s > 0
      AND readings_last_hour < 0.5 * span_s / expected_interval_s THEN 'degraded'
    ELSE 'ok'
  END AS status
FROM evaluated
