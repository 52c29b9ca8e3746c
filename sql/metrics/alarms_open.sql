-- Metrics: open alarm episodes by rule and severity (smarttech_alarms_open{rule,severity}).
-- An episode is open while ended_at is null (see gold/alarms in docs/architecture.md).
-- Placeholder: {{alarms}}, the gold alarms table as a relation (a snapshot scan).
SELECT rule, severity, count(*)::DOUBLE AS open
FROM {{alarms}}
WHERE ended_at IS NULL
GROUP BY rule, severity
