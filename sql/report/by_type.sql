-- Readings and alarms per sensor type, as the demo report prints them: every type silver holds
-- (the catalogue's, so a type beyond the brief's four shows here as soon as it is ingested),
-- its devices and readings, the mean reading, and its alarm episodes (gold/alarms) and
-- incidents (gold/incidents). Reads the silver, gold_alarms and gold_incidents views.
WITH readings AS (
  SELECT type, any_value(unit) AS unit, count(DISTINCT device_id) AS devices,
    count(*) AS readings, round(avg(value), 2) AS mean_value
  FROM silver
  GROUP BY type
),
alarms AS (
  SELECT type, count(*) AS alarms FROM gold_alarms GROUP BY type
),
incidents AS (
  SELECT type, count(*) AS incidents FROM gold_incidents GROUP BY type
)
SELECT r.type, r.unit, r.devices, r.readings, r.mean_value,
  coalesce(a.alarms, 0) AS alarms, coalesce(i.incidents, 0) AS incidents
FROM readings r
LEFT JOIN alarms a USING (type)
LEFT JOIN incidents i USING (type)
ORDER BY r.type;
