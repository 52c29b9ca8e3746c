-- Context of the alarm rules, from alarm_readings (sql/alarms/_readings.sql; not a rule).
-- alarm_horizon: the newest data time per series (device and type) and per building — alarms close only once
-- data has moved past their hold time, so "no newer data" leaves an alarm open. Never after the wall
-- clock: a device clock ahead must not close or open anything early.
-- alarm_building_minutes: which minutes each building reported in (for the silent rule).
CREATE OR REPLACE TEMP TABLE alarm_horizon AS
SELECT series_subject(device_id, type) AS subject, least(max(ts), now()::TIMESTAMPTZ) AS horizon_ts
FROM alarm_readings GROUP BY device_id, type
UNION ALL
SELECT 'building:' || building, least(max(ts), now()::TIMESTAMPTZ) FROM alarm_readings GROUP BY building;

CREATE OR REPLACE TEMP TABLE alarm_building_minutes AS
SELECT building, minute_start(minute) AS minute
FROM (SELECT DISTINCT building, epoch_minute(ts) AS minute FROM alarm_readings);
