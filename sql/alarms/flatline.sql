-- Rule `flatline`: a device reporting exactly the same value for >= its type's flatline_s
-- (alarm_thresholds, e.g. 10 min; a type without flatline_s skips the rule) — a stuck sensor
-- or a frozen gateway. Every reading of such a run is a violation; the episode clears at the
-- first different value (hold_s 0). peak_value: the stuck value.
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
  series_subject(s.device_id, s.type) AS subject, s.device_id, s.building, s.floor, s.type,
  s.ts, s.next_ts AS clear_ts,
  1 AS level,
  s.value,
  seconds_between(s.run_start, s.run_end) AS score,
  t.flatline_s AS threshold,
  t.flatline_s AS min_duration_s
FROM spans s
JOIN alarm_thresholds t ON t.type = s.type
WHERE seconds_between(s.run_start, s.run_end) >= t.flatline_s
