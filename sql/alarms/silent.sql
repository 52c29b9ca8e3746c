-- Rule `silent`: a device that stopped reporting while the rest of its building reports.
-- A gap between two readings of a series (a device's readings of one type) — or from its last
-- reading to the building's newest data, for a device still silent — is a silence when it exceeds max(interval_factor x usual interval,
-- min_gap_s) = max(5 x interval, 2 min), where the usual interval is the median gap of the
-- device's readings in the hour before it went quiet, and some other device of the building
-- reported in a minute after that limit had passed. started_at is the first missing reading
-- (last seen + usual interval); the episode ends at the next reading (null while silent).
-- peak_value: the length of the silence in seconds; critical beyond critical_gap_s (1 h).
WITH settings AS (
  SELECT
    (SELECT value FROM alarm_settings WHERE rule = 'silent' AND setting = 'interval_factor') AS factor,
    (SELECT value FROM alarm_settings WHERE rule = 'silent' AND setting = 'min_gap_s') AS min_gap_s,
    (SELECT value FROM alarm_settings WHERE rule = 'silent' AND setting = 'critical_gap_s') AS critical_gap_s
),
gaps AS (
  SELECT device_id, building, floor, type, prev_ts AS silent_from, ts AS silent_to, prev_value AS value
  FROM alarm_readings, settings
  WHERE prev_ts IS NOT NULL AND seconds_between(prev_ts, ts) > settings.min_gap_s
  UNION ALL
  SELECT r.device_id, r.building, r.floor, r.type, r.ts, NULL, r.value
  FROM alarm_readings r
  JOIN alarm_horizon h ON h.subject = 'building:' || r.building, settings
  WHERE r.next_ts IS NULL AND seconds_between(r.ts, h.horizon_ts) > settings.min_gap_s
),
usual AS (
  SELECT g.device_id, g.type, g.silent_from, median(seconds_between(r.prev_ts, r.ts)) AS interval_s
  FROM gaps g
  JOIN alarm_readings r
    ON r.device_id = g.device_id AND r.type = g.type
    AND r.ts > g.silent_from - INTERVAL 1 HOUR AND r.ts <= g.silent_from
  GROUP BY g.device_id, g.type, g.silent_from
),
silences AS (
  SELECT g.*, u.interval_s,
    greatest(s.factor * coalesce(u.interval_s, 0), s.min_gap_s) AS limit_s,
    seconds_between(g.silent_from, coalesce(g.silent_to, h.horizon_ts)) AS gap_s,
    s.critical_gap_s
  FROM gaps g
  LEFT JOIN usual u USING (device_id, type, silent_from)
  JOIN alarm_horizon h ON h.subject = 'building:' || g.building
  CROSS JOIN settings s
)
SELECT
  'silent' AS rule,
  series_subject(device_id, type) AS subject, device_id, building, floor, type,
  silent_from + to_microseconds(CAST(coalesce(interval_s, 0) * 1e6 AS BIGINT)) AS ts,
  silent_to AS clear_ts,
  CASE WHEN gap_s > critical_gap_s THEN 2 ELSE 1 END AS level,
  gap_s AS value,
  gap_s AS score,
  limit_s AS threshold,
  (SELECT value FROM alarm_settings WHERE rule = 'silent' AND setting = 'min_duration_s')
    AS min_duration_s
FROM silences s
WHERE gap_s > limit_s
  AND EXISTS (
    SELECT 1 FROM alarm_building_minutes m
    WHERE m.building = s.building
      AND m.minute > s.silent_from + to_microseconds(CAST(s.limit_s * 1e6 AS BIGINT))
      AND (s.silent_to IS NULL OR m.minute + INTERVAL 1 MINUTE <= s.silent_to)
  )
