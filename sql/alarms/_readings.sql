-- Shared input of every alarm rule (not a rule itself): the silver readings of {{silver}}, per
-- series (device and type) in time order, with the previous and next reading of the same series
-- (what spike,
-- flatline, silent and the episode end need). Materialised as `alarm_readings` (and, in a full
-- gold refresh, as the one silver scope every gold table reads, so silver is sorted once).
SELECT
  timestamp AS ts, device_id, building, floor, type, value,
  lag(timestamp) OVER w AS prev_ts,
  lag(value) OVER w AS prev_value,
  lead(timestamp) OVER w AS next_ts,
  lead(value) OVER w AS next_value
FROM {{silver}}
WINDOW w AS (PARTITION BY device_id, type ORDER BY timestamp)
