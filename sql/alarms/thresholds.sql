-- Alarm thresholds: THE one place to tune alarms. Edit the numbers below; every rule in
-- sql/alarms/*.sql reads them from these two tables, and nothing else holds a limit.
-- Values are in canonical units: temperature C, humidity %, co2 ppm, energy kWh per reading.
-- A NULL limit means "no limit on that side" (e.g. CO2 has no low band).
-- After editing, rebuild the alarms with `deno task gold --full` (or let the next refresh pick
-- them up for new data).

-- Per sensor type.
--   warn_low/high, crit_low/high  band rule ("threshold"): outside warn = warning, outside
--                                 crit = critical (both must be sustained, see alarm_settings)
--   max_step                      spike rule: largest plausible change between two consecutive
--                                 readings of one device (absolute, canonical unit)
--   max_step_ratio                spike rule for energy: largest plausible ratio between two
--                                 consecutive readings (energy depends on load, so relative)
--   z_min_scale, z_min_scale_rel  zscore rule: floor of the robust scale (absolute, and as a
--                                 fraction of the median) so sensor noise and quantisation on a
--                                 very steady signal do not turn into huge z-scores
CREATE OR REPLACE TEMP TABLE alarm_thresholds AS
SELECT * FROM (VALUES
  --            warn_low  warn_high  crit_low  crit_high  max_step  max_step_ratio  z_min_scale  z_min_scale_rel
  ('temperature', 18.0,     28.0,      15.0,     32.0,      3.0,      NULL,           0.3,         NULL),
  ('humidity',    30.0,     60.0,      20.0,     70.0,      10.0,     NULL,           1.5,         NULL),
  ('co2',         NULL,     1000.0,    NULL,     1500.0,    500.0,    NULL,           40.0,        NULL),
  ('energy',      NULL,     NULL,      NULL,     NULL,      NULL,     4.0,            NULL,        0.1)
) AS t(type, warn_low, warn_high, crit_low, crit_high, max_step, max_step_ratio, z_min_scale,
  z_min_scale_rel);

-- Per rule (and `incident`: how episodes group into incidents, not a rule). Every rule has
--   min_duration_s  an episode must span at least this long (first to last violating reading)
--   hold_s          hysteresis: an episode clears only after the signal has been back inside
--                   the band for this long; violations closer than this merge into one episode
CREATE OR REPLACE TEMP TABLE alarm_settings AS
SELECT * FROM (VALUES
  ('threshold',       'min_duration_s',  300.0, 'CO2/temperature/humidity outside the band for >= 5 min'),
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
  ('flatline',        'min_duration_s',  600.0, 'exactly the same value for >= 10 min'),
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
