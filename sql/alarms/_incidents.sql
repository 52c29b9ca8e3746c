-- gold/incidents: what an operator acts on (not a rule). One injected fault typically trips
-- several rules on one series at once (spike, threshold and zscore on the same minutes): each is
-- an alarm episode in gold/alarms; here they become ONE incident.
--
-- Series: a device's readings of one type (device_id, type); building-level rules
-- (energy_baseline, device_id null) form the series ('building:<b>', type).
-- Adjacent: ordering a series' episodes by started_at, an episode joins the incident before it
-- when it starts no later than gap_s (alarm_settings 'incident', 10 min) after the latest
-- ended_at so far, or while an earlier episode is still open (overlapping episodes always
-- merge). Otherwise it starts a new incident.
-- Clearing: an incident is open (ended_at null) while any of its episodes is open, and also
-- until the series' data (its device's last_seen in gold/device_health; for building-level
-- series the building's newest) is gap_s past its last episode end — a relapse within gap_s
-- would join it, so it is not reported cleared and then reopened. ended_at is then the last
-- episode's end.
--   rules       the rules of its episodes, sorted, comma-separated
--   severity    the highest of its episodes' ('critical' > 'warning'); an escalation keeps the
--               incident (and its id), only its severity rises
--   peak_value/peak_unit and threshold/threshold_unit/threshold_rule: from its WORST episode
--               (critical first, then by rule: threshold, spike, zscore, flatline, silent,
--               energy_baseline — value-space limits first — then the earliest), so the two
--               figures always belong together:
--                 threshold  the comfort-band limit crossed, in the type's unit (C, %, ppm)
--                 spike      max step between consecutive readings ("C step"; a type limited
--                            by a ratio, such as energy: "x step"); the peak is the spiking reading
--                 zscore     the robust z-score limit ("z", unitless); the peak is the reading
--                 flatline   the minimum stuck duration ("s"); the peak is the stuck value
--                 silent     the gap limit ("s"); the peak is the gap length ("s")
--                 energy_baseline  the factor over baseline ("x baseline"), peak likewise
-- incident_id is deterministic (series, started_at): refreshes keep it stable. A late episode
-- that starts earlier and merges gives the incident a new started_at, hence a new id.
-- Units are the catalogue's (sensor_types, alarm_thresholds: sql/catalogue/tables.sql).
-- Computed from all of {{alarms}} (gold/alarms rows: thousands, not millions) with
-- {{device_health}} for the horizons, so an incremental refresh equals a full one exactly.
WITH settings AS (
  SELECT (SELECT value FROM alarm_settings WHERE rule = 'incident' AND setting = 'gap_s') AS gap_s
),
units AS (
  SELECT s.type, s.unit,
    CASE WHEN t.max_step IS NULL AND t.max_step_ratio IS NOT NULL THEN 'x' ELSE s.unit END
      AS step_unit
  FROM sensor_types s LEFT JOIN alarm_thresholds t USING (type)
),
episodes AS (
  SELECT a.*,
    coalesce(a.device_id, 'building:' || a.building) AS source,
    CASE a.severity WHEN 'critical' THEN 2 ELSE 1 END AS level,
    CASE a.rule
      WHEN 'threshold' THEN 1 WHEN 'spike' THEN 2 WHEN 'zscore' THEN 3 WHEN 'flatline' THEN 4
      WHEN 'silent' THEN 5 WHEN 'energy_baseline' THEN 6 ELSE 9
    END AS priority
  FROM {{alarms}} a
),
ordered AS (
  SELECT *,
    max(ended_at) OVER before AS prev_end,
    bool_or(ended_at IS NULL) OVER before AS prev_open
  FROM episodes
  WINDOW before AS (PARTITION BY source, type ORDER BY started_at, alarm_id
    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
numbered AS (
  SELECT o.*,
    sum(CASE
      WHEN o.prev_open OR seconds_between(o.prev_end, o.started_at) <= s.gap_s THEN 0
      ELSE 1
    END) OVER (PARTITION BY o.source, o.type ORDER BY o.started_at, o.alarm_id
      ROWS UNBOUNDED PRECEDING) AS incident
  FROM ordered o, settings s
),
ranked AS (
  SELECT *,
    row_number() OVER (PARTITION BY source, type, incident
      ORDER BY level DESC, priority, started_at, alarm_id) AS worst
  FROM numbered
),
incidents AS (
  SELECT source, type, incident,
    any_value(device_id) AS device_id, any_value(building) AS building,
    any_value(floor) AS floor,
    min(started_at) AS started_at,
    CASE WHEN bool_or(ended_at IS NULL) THEN NULL ELSE max(ended_at) END AS last_end,
    string_agg(DISTINCT rule, ',' ORDER BY rule) AS rules,
    max(level) AS level,
    count(*) AS episodes,
    any_value(rule) FILTER (WHERE worst = 1) AS worst_rule,
    any_value(peak_value) FILTER (WHERE worst = 1) AS peak_value,
    any_value(threshold) FILTER (WHERE worst = 1) AS threshold
  FROM ranked
  GROUP BY source, type, incident
),
horizons AS (
  SELECT device_id AS source, max(last_seen) AS horizon_ts FROM {{device_health}} GROUP BY 1
  UNION ALL
  SELECT 'building:' || building, max(last_seen) FROM {{device_health}} GROUP BY building
)
SELECT
  md5('incident|' || i.source || '|' || i.type || '|' || epoch_us(i.started_at)) AS incident_id,
  CASE WHEN i.level = 2 THEN 'critical' ELSE 'warning' END AS severity,
  i.device_id, i.building, i.floor, i.type,
  i.rules, i.episodes,
  i.started_at,
  CASE
    WHEN i.last_end IS NOT NULL AND seconds_between(i.last_end, h.horizon_ts) >= s.gap_s
      THEN i.last_end
  END AS ended_at,
  i.peak_value,
  CASE
    WHEN i.worst_rule IN ('threshold', 'spike', 'zscore', 'flatline') THEN u.unit
    WHEN i.worst_rule = 'silent' THEN 's'
    WHEN i.worst_rule = 'energy_baseline' THEN 'x baseline'
  END AS peak_unit,
  i.threshold,
  CASE
    WHEN i.worst_rule = 'threshold' THEN u.unit
    WHEN i.worst_rule = 'spike' THEN u.step_unit || ' step'
    WHEN i.worst_rule = 'zscore' THEN 'z'
    WHEN i.worst_rule IN ('flatline', 'silent') THEN 's'
    WHEN i.worst_rule = 'energy_baseline' THEN 'x baseline'
  END AS threshold_unit,
  i.worst_rule AS threshold_rule
FROM incidents i
CROSS JOIN settings s
LEFT JOIN units u ON u.type = i.type
LEFT JOIN horizons h ON h.source = i.source
