-- The sensor catalogue (sensors.yaml, src/reading/catalogue.ts) as small temp tables, so SQL
-- joins the catalogue instead of repeating it: one row per type, spelling, alias and type's
-- alarm parameters. Filled by src/reading/catalogue_sql.ts with bound values (never SQL text
-- built from the file). Canonical units throughout; NULL means "not set" (a NULL band side is
-- "no limit on that side", a NULL rule parameter turns that rule off for the type).

-- One row per type.
--   unit        canonical unit stored in silver (C, %, ppm, kWh, ug/m3 …)
--   range_min/max  plausible range; outside is quarantined as out_of_range
--   aggregate   how readings combine over time: 'mean' for a level (temperature), 'sum' for a
--               counter whose reading is the amount since the previous one (energy in kWh)
CREATE OR REPLACE TEMP TABLE sensor_types (
  type VARCHAR PRIMARY KEY,
  unit VARCHAR NOT NULL,
  range_min DOUBLE,
  range_max DOUBLE,
  aggregate VARCHAR NOT NULL CHECK (aggregate IN ('mean', 'sum'))
);

-- Accepted unit spellings per type: canonical value = value * scale + offset. The canonical
-- unit itself is always listed (scale 1, offset 0).
CREATE OR REPLACE TEMP TABLE sensor_units (
  type VARCHAR NOT NULL,
  spelling VARCHAR NOT NULL,
  scale DOUBLE NOT NULL,
  "offset" DOUBLE NOT NULL,
  PRIMARY KEY (type, spelling)
);

-- Payload field aliases: for each reading field, the paths tried in rank order (1 first; the
-- first present wins). A path is dotted ('meta.device') to reach into objects.
CREATE OR REPLACE TEMP TABLE field_aliases (
  field VARCHAR NOT NULL,
  rank INTEGER NOT NULL,
  path VARCHAR NOT NULL,
  PRIMARY KEY (field, rank)
);

-- Alarm parameters per type (the catalogue's `thresholds:`), read by every rule in
-- sql/alarms/. A type without thresholds has a row of NULLs: every rule skips it.
--   warn_low/high, crit_low/high  band rule (threshold.sql): outside warn = warning, outside
--                                 crit = critical
--   min_duration_s                band rule: the episode must last this long (NULL: the rule's
--                                 min_duration_s in alarm_settings)
--   max_step                      spike rule: largest plausible change between consecutive
--                                 readings (absolute)
--   max_step_ratio                spike rule for load-dependent signals: largest plausible
--                                 ratio between consecutive readings
--   z_min_scale, z_min_scale_rel  zscore rule: floors of the robust scale (absolute, and as a
--                                 fraction of the median); both NULL: no zscore for the type
--   flatline_s                    flatline rule: the same value this long is a stuck sensor
CREATE OR REPLACE TEMP TABLE alarm_thresholds (
  type VARCHAR PRIMARY KEY,
  warn_low DOUBLE,
  warn_high DOUBLE,
  crit_low DOUBLE,
  crit_high DOUBLE,
  max_step DOUBLE,
  max_step_ratio DOUBLE,
  z_min_scale DOUBLE,
  z_min_scale_rel DOUBLE,
  min_duration_s DOUBLE,
  flatline_s DOUBLE
);

-- The energy types: counters (aggregate 'sum') measured in kWh. The gold energy tables
-- (energy_hourly, energy_daily) and the energy_baseline rule sum their readings per building;
-- with the brief's catalogue that is `energy` alone.
CREATE OR REPLACE TEMP VIEW energy_types AS
SELECT type FROM sensor_types WHERE aggregate = 'sum' AND unit = 'kWh';
