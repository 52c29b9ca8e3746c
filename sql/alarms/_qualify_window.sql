-- The longest an episode can have been violating, unseen because it had not lasted its
-- min_duration_s yet, before the readings of an incremental refresh: the longest
-- min_duration_s of any rule or type (the flatline window included) plus the longest hold_s
-- (violations closer than it merge into one episode). Seconds. See src/gold/alarms.ts.
SELECT
  greatest(
    coalesce((SELECT max(greatest(coalesce(min_duration_s, 0), coalesce(flatline_s, 0)))
              FROM alarm_thresholds), 0),
    coalesce((SELECT max(value) FROM alarm_settings WHERE setting = 'min_duration_s'), 0)
  )
  + coalesce((SELECT max(value) FROM alarm_settings WHERE setting = 'hold_s'), 0)
