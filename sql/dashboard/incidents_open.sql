-- Dashboard: open incidents (gold_incidents rows not yet cleared, sql/alarms/_incidents.sql),
-- critical first, then oldest first, each with its alarm episodes (gold_alarms rows of the same
-- series from the incident's start on) as JSON for the expandable rule list. Age is in data
-- time: $now (newest event in silver) minus started_at.
-- Parameters: $now (TIMESTAMPTZ as text). At most 200 rows: past that the page says "200+".
SELECT i.incident_id, i.severity, i.rules, i.device_id, i.building, i.floor::INTEGER AS floor,
       i.type,
       epoch_ms(i.started_at)::DOUBLE AS started_ms,
       greatest(0, epoch_ms($now::TIMESTAMPTZ) - epoch_ms(i.started_at))::DOUBLE AS age_ms,
       i.peak_value::DOUBLE AS peak_value, i.peak_unit,
       i.threshold::DOUBLE AS threshold, i.threshold_unit, i.threshold_rule,
       (SELECT to_json(list({
                 rule: a.rule, severity: a.severity,
                 started_ms: epoch_ms(a.started_at), ended_ms: epoch_ms(a.ended_at),
                 peak_value: a.peak_value, threshold: a.threshold
               } ORDER BY a.started_at, a.rule))::VARCHAR
        FROM gold_alarms a
        WHERE coalesce(a.device_id, 'building:' || a.building)
            = coalesce(i.device_id, 'building:' || i.building)
          AND a.type = i.type AND a.started_at >= i.started_at) AS episodes_json
FROM gold_incidents i
WHERE i.ended_at IS NULL
ORDER BY i.severity = 'critical' DESC, i.started_at, i.incident_id
LIMIT 201;
