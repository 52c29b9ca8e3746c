-- Dashboard: recently cleared incidents, the 20 newest that ended in the 24 hours of data time up
-- to $now (newest event in silver), with how long they lasted and their alarm episodes (gold_alarms
-- rows of the same series between the incident's start and end) as JSON.
-- Parameters: $now (TIMESTAMPTZ as text).
SELECT i.incident_id, i.severity, i.rules, i.device_id, i.building, i.floor::INTEGER AS floor,
       i.type,
       epoch_ms(i.started_at)::DOUBLE AS started_ms,
       epoch_ms(i.ended_at)::DOUBLE AS ended_ms,
       (epoch_ms(i.ended_at) - epoch_ms(i.started_at))::DOUBLE AS duration_ms,
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
          AND a.type = i.type AND a.started_at >= i.started_at
          AND a.started_at <= i.ended_at) AS episodes_json
FROM gold_incidents i
WHERE i.ended_at IS NOT NULL AND i.ended_at > $now::TIMESTAMPTZ - INTERVAL 24 HOUR
ORDER BY i.ended_at DESC, i.incident_id
LIMIT 20;
