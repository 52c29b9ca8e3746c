-- Rule `threshold`: a value outside its comfort band, sustained.
-- Bands per type in alarm_thresholds (the catalogue's `thresholds:`, e.g. CO2 warning above
-- 1000 ppm, critical above 1500 ppm; a type without bands never violates). An episode needs its
-- violations to span >= min_duration_s (the type's, else the rule's 5 min); it is critical when
-- the readings beyond the critical band alone span that long, else warning. It clears after hold_s (2 min)
-- back inside the warning band. peak_value: the reading farthest outside the band.
SELECT
  'threshold' AS rule,
  series_subject(r.device_id, r.type) AS subject, r.device_id, r.building, r.floor, r.type,
  r.ts, r.next_ts AS clear_ts,
  CASE WHEN r.value < t.crit_low OR r.value > t.crit_high THEN 2 ELSE 1 END AS level,
  r.value,
  greatest(t.warn_low - r.value, r.value - t.warn_high) AS score,
  CASE
    WHEN r.value > t.crit_high THEN t.crit_high
    WHEN r.value > t.warn_high THEN t.warn_high
    WHEN r.value < t.crit_low THEN t.crit_low
    ELSE t.warn_low
  END AS threshold,
  coalesce(t.min_duration_s, (SELECT value FROM alarm_settings
    WHERE rule = 'threshold' AND setting = 'min_duration_s')) AS min_duration_s
FROM alarm_readings r
JOIN alarm_thresholds t USING (type)
WHERE r.value < t.warn_low OR r.value > t.warn_high
