-- Turns the violating readings of every rule ({{violations}}) into alarm EPISODES (not a rule).
-- Per rule and subject (a device, or `building:<b>` for building-level rules), violations merge
-- into one episode while each starts no later than hold_s after the previous one was followed by
-- an in-band reading (consecutive violations always merge). An episode must span at least
-- min_duration_s (each violation carries its rule's, per type where the catalogue sets one:
-- the band rule's min_duration_s, the flatline window); it is critical when its critical readings alone span that long. It is closed
-- (ended_at = the first in-band reading) only once the subject's data reaches hold_s past that
-- reading — hysteresis: until then it stays open (ended_at null). alarm_id is deterministic
-- (rule, subject, started_at), so refreshes keep ids stable.
WITH v AS (
  SELECT v.*,
    hold.value AS hold_s,
    lag(v.clear_ts) OVER (PARTITION BY v.rule, v.subject ORDER BY v.ts) AS prev_clear_ts
  FROM {{violations}} v
  JOIN alarm_settings hold ON hold.rule = v.rule AND hold.setting = 'hold_s'
),
numbered AS (
  SELECT *,
    sum(CASE
      WHEN prev_clear_ts IS NOT NULL AND seconds_between(prev_clear_ts, ts) <= hold_s THEN 0
      ELSE 1
    END) OVER (PARTITION BY rule, subject ORDER BY ts ROWS UNBOUNDED PRECEDING) AS episode
  FROM v
),
episodes AS (
  SELECT rule, subject, episode,
    any_value(device_id) AS device_id, any_value(building) AS building,
    any_value(floor) AS floor, any_value(type) AS type,
    min(ts) AS started_at, max(ts) AS last_ts,
    arg_max(clear_ts, ts) AS clear_ts,
    arg_max(value, score) AS peak_value,
    arg_max(threshold, score) AS threshold,
    count(*) AS readings,
    max(level) AS max_level,
    seconds_between(min(ts) FILTER (WHERE level = 2), max(ts) FILTER (WHERE level = 2))
      AS critical_span_s,
    any_value(hold_s) AS hold_s,
    any_value(min_duration_s) AS min_duration_s
  FROM numbered
  GROUP BY rule, subject, episode
)
SELECT
  md5(rule || '|' || subject || '|' || epoch_us(started_at)) AS alarm_id,
  rule,
  CASE WHEN max_level = 2 AND critical_span_s >= min_duration_s THEN 'critical' ELSE 'warning' END
    AS severity,
  device_id, building, floor, type,
  started_at,
  CASE
    WHEN e.clear_ts IS NOT NULL
      AND h.horizon_ts >= e.clear_ts + to_microseconds(CAST(e.hold_s * 1e6 AS BIGINT))
      THEN e.clear_ts
  END AS ended_at,
  peak_value, readings, threshold
FROM episodes e
LEFT JOIN alarm_horizon h USING (subject)
WHERE seconds_between(started_at, last_ts) >= min_duration_s
