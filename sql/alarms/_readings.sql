-- Shared input of every alarm rule (not a rule itself).
-- alarm_readings: the silver readings in the scan range, per device in time order, with the
-- previous and next reading of the same device (what spike, flatline, silent and the episode
-- end need). alarm_horizon: the newest data time per device and per building — alarms close
-- only once data has moved past their hold time, so "no newer data" leaves an alarm open.
-- alarm_building_minutes: which minutes each building reported in (for the silent rule).
CREATE OR REPLACE TEMP TABLE alarm_readings AS
SELECT
  timestamp AS ts, device_id, building, floor, type, value,
  lag(timestamp) OVER w AS prev_ts,
  lag(value) OVER w AS prev_value,
  lead(timestamp) OVER w AS next_ts,
  lead(value) OVER w AS next_value
FROM {{silver}}
WINDOW w AS (PARTITION BY device_id ORDER BY timestamp);

CREATE OR REPLACE TEMP TABLE alarm_horizon AS
SELECT device_id AS subject, max(ts) AS horizon_ts FROM alarm_readings GROUP BY device_id
UNION ALL
SELECT 'building:' || building, max(ts) FROM alarm_readings GROUP BY building;

CREATE OR REPLACE TEMP TABLE alarm_building_minutes AS
SELECT DISTINCT building, utc_minute(ts) AS minute FROM alarm_readings;
