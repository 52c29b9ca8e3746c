-- Alarms by building and rule, as the demo report prints them.
-- One row per (building, rule): how many alarm episodes, how many are still open, and how many
-- reached `critical`. Reads the gold_alarms view (gold/alarms).
SELECT
  building,
  rule,
  count(*) AS alarms,
  count(*) FILTER (WHERE ended_at IS NULL) AS still_open,
  count(*) FILTER (WHERE severity = 'critical') AS critical
FROM gold_alarms
GROUP BY building, rule
ORDER BY building, alarms DESC, rule;
