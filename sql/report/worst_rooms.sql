-- The worst rooms (building floors) of the data: ranked by alarm minutes, the time any device
-- on that floor was in alarm (an open alarm counts up to the newest reading in silver).
-- Peak CO2 and the temperature range of the floor are shown beside it for context.
WITH horizon AS (SELECT max(timestamp) AS now FROM silver),
alarm_minutes AS (
  SELECT
    building,
    floor,
    count(*) AS alarms,
    round(sum(epoch(coalesce(ended_at, (SELECT now FROM horizon)) - started_at)) / 60, 1) AS minutes
  FROM gold_alarms
  GROUP BY building, floor
),
climate AS (
  SELECT
    building,
    floor,
    max(value) FILTER (WHERE type = 'co2') AS peak_co2_ppm,
    round(min(value) FILTER (WHERE type = 'temperature'), 1) AS min_temp_c,
    round(max(value) FILTER (WHERE type = 'temperature'), 1) AS max_temp_c
  FROM silver
  GROUP BY building, floor
)
SELECT a.building, a.floor, a.alarms, a.minutes AS alarm_minutes, c.peak_co2_ppm, c.min_temp_c,
  c.max_temp_c
FROM alarm_minutes a
LEFT JOIN climate c USING (building, floor)
ORDER BY a.minutes DESC, a.alarms DESC
LIMIT 5;
