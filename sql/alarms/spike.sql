-- Rule `spike`: a change between two consecutive readings of a series (a device, one type; at
-- most max_gap_s = 10 min apart) beyond the type's max_step (absolute, e.g. temperature 3 C)
-- or, for a type with max_step_ratio instead (a load-dependent signal such as energy), beyond
-- that ratio up or down; a type with neither skips the rule. Critical beyond critical_factor
-- (2) times the limit. Both the jump and the return flag; they merge into one episode
-- (hold_s). peak_value: the reading farthest from its neighbours' mean (the spike itself, not
-- the return to normal). threshold: the limit (max_step, or the ratio).
WITH steps AS (
  SELECT r.*,
    CASE
      WHEN t.max_step IS NOT NULL THEN abs(r.value - r.prev_value) / t.max_step
      WHEN t.max_step_ratio IS NOT NULL AND r.value > 0 AND r.prev_value > 0
        THEN greatest(r.value / r.prev_value, r.prev_value / r.value) / t.max_step_ratio
    END AS excess,
    coalesce(t.max_step, t.max_step_ratio) AS step_limit
  FROM alarm_readings r
  JOIN alarm_thresholds t USING (type)
  WHERE r.prev_value IS NOT NULL
    -- a cheap screen, exact: no step within the smallest max_step can exceed its type's
    AND (abs(r.value - r.prev_value) > (SELECT min(max_step) FROM alarm_thresholds)
      OR r.type IN (SELECT type FROM alarm_thresholds WHERE max_step_ratio IS NOT NULL))
    AND seconds_between(r.prev_ts, r.ts)
      <= (SELECT value FROM alarm_settings WHERE rule = 'spike' AND setting = 'max_gap_s')
)
SELECT
  'spike' AS rule,
  series_subject(device_id, type) AS subject, device_id, building, floor, type,
  ts, next_ts AS clear_ts,
  CASE
    WHEN excess > (SELECT value FROM alarm_settings WHERE rule = 'spike' AND setting = 'critical_factor')
      THEN 2 ELSE 1
  END AS level,
  value,
  abs(value - (prev_value + coalesce(next_value, prev_value)) / 2) AS score,
  step_limit AS threshold,
  (SELECT value FROM alarm_settings WHERE rule = 'spike' AND setting = 'min_duration_s')
    AS min_duration_s
FROM steps
WHERE excess > 1
