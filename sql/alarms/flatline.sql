-- Rule `flatline`: a device reporting exactly the same value for >= min_duration_s (10 min) —
-- a stuck sensor or a frozen gateway. Every reading of such a run is a violation; the episode
-- clears at the first different value (hold_s 0). peak_value: the stuck value.
-- Only readings equal to a neighbour can belong to a run, so runs are numbered over those alone
-- (a run starts wherever a reading differs from its predecessor).
WITH candidates AS (
  SELECT * FROM alarm_readings WHERE value = prev_value OR value = next_value
),
runs AS (
  SELECT *,
    sum(CASE WHEN value = prev_value THEN 0 ELSE 1 END)
      OVER (PARTITION BY device_id, type ORDER BY ts ROWS UNBOUNDED PRECEDING) AS run
  FROM candidates
),
spans AS (
  SELECT *,
    min(ts) OVER (PARTITION BY device_id, type, run) AS run_start,
    max(ts) OVER (PARTITION BY device_id, type, run) AS run_end
  FROM runs
)
SELECT
  'flatline' AS rule,
  series_subject(device_id, type) AS subject, device_id, building, floor, type,
  ts, next_ts AS clear_ts,
  1 AS level,
  value,
  seconds_between(run_start, run_end) AS score,
  (SELECT value FROM alarm_settings WHERE rule = 'flatline' AND setting = 'min_duration_s') AS threshold
FROM spans
WHERE seconds_between(run_start, run_end)
  >= (SELECT value FROM alarm_settings WHERE rule = 'flatline' AND setting = 'min_duration_s')
