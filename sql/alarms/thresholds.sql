-- Alarm settings per rule: how each rule behaves, the same for every sensor type. The per-type
-- limits (bands, spike size, z-score floors, flatline window) are not here: they are data of
-- the sensor catalogue (sensors.yaml, `thresholds:` of each type), loaded as the temp table
-- alarm_thresholds (sql/catalogue/tables.sql, src/reading/catalogue_sql.ts) — a type whose
-- parameter is null skips the rule that needs it. Every rule in sql/alarms/*.sql reads its
-- limits from these two tables, and nothing else holds a limit.
-- After editing either, rebuild the alarms with `deno task gold --full` (or let the next
-- refresh pick them up for new data).

-- Per rule (and `incident`: how episodes group into incidents, not a rule). Every rule has
--   min_duration_s  an episode must span at least this long (first to last violating reading);
--                   the band rule takes a type's own min_duration_s first, the flatline rule
--                   its type's flatline_s (sensors.yaml)
--   hold_s          hysteresis: an episode clears only after the signal has been back inside
--                   the band for this long; violations closer than this merge into one episode
CREATE OR REPLACE TEMP TABLE alarm_settings AS
SELECT * FROM (VALUES
  ('threshold',       'min_duration_s',  300.0, 'outside the band for >= 5 min, unless the type sets min_duration_s'),
  ('threshold',       'hold_s',          120.0, 'back inside the band for 2 min before clearing'),
  ('spike',           'min_duration_s',    0.0, 'one jump is enough'),
  ('spike',           'hold_s',          120.0, 'jumps within 2 min are one episode'),
  ('spike',           'max_gap_s',       600.0, 'only compare readings at most 10 min apart'),
  ('spike',           'critical_factor',   2.0, 'critical when the jump exceeds 2 x max_step'),
  ('zscore',          'min_duration_s',    0.0, 'one outlier is enough'),
  ('zscore',          'hold_s',          120.0, 'outliers within 2 min are one episode'),
  ('zscore',          'limit',             4.0, '|value - median| / (1.4826 x MAD) above this'),
  ('zscore',          'critical',          8.0, 'critical above this z'),
  ('zscore',          'min_readings',     10.0, 'trailing hour must hold this many readings'),
  ('flatline',        'hold_s',            0.0, 'clears at the first different value'),
  ('silent',          'min_duration_s',    0.0, 'one gap is enough'),
  ('silent',          'hold_s',            0.0, 'clears at the next reading'),
  ('silent',          'interval_factor',   5.0, 'silent after 5 x the usual interval...'),
  ('silent',          'min_gap_s',       120.0, '...and at least 2 min'),
  ('silent',          'critical_gap_s', 3600.0, 'critical when silent for an hour'),
  ('energy_baseline', 'min_duration_s',    0.0, 'one 15-min bucket is enough'),
  ('energy_baseline', 'hold_s',          900.0, 'one normal bucket in between does not clear'),
  ('energy_baseline', 'factor',            2.0, 'building energy above 2 x its hour-of-week baseline'),
  ('energy_baseline', 'critical_factor',   3.0, 'critical above 3 x'),
  ('energy_baseline', 'baseline_weeks',    4.0, 'baseline: median of the same hour in up to 4 previous weeks'),
  ('incident',        'gap_s',           600.0, 'episodes of one series at most 10 min apart are one incident (sql/alarms/_incidents.sql)')
) AS t(rule, setting, value, meaning);
