-- Dashboard: the incident panels (gold_incidents, sql/alarms/_incidents.sql) in one query.
--   open     not cleared; critical first, then oldest first; at most 201 (past 200 the page says
--            "200+"); age in data time: $now (newest event in silver) minus started_at
--   cleared  the 20 newest that ended in the 24 hours of data time up to $now, with how long
--            they lasted
-- Each with its alarm episodes as JSON, for the expandable rule list: the gold_alarms rows of
-- the same series (device, or building for building-level rules, and type) that start within
-- the incident (incidents of one series never overlap, so these are exactly its episodes).
-- Parameters: $now (TIMESTAMPTZ as text).
WITH shown AS (
  (SELECT *, true AS is_open FROM gold_incidents
   WHERE ended_at IS NULL
   ORDER BY severity = 'critical' DESC, started_at, incident_id
   LIMIT 201)
  UNION ALL
  (SELECT *, false AS is_open FROM gold_incidents
   WHERE ended_at IS NOT NULL AND ended_at > $now::TIMESTAMPTZ - INTERVAL 24 HOUR
   ORDER BY ended_at DESC, incident_id
   LIMIT 20)
)
SELECT i.is_open, i.incident_id, i.severity, i.rules, i.device_id, i.building,
       i.floor::INTEGER AS floor, i.type,
       epoch_ms(i.started_at)::DOUBLE AS started_ms,
       epoch_ms(i.ended_at)::DOUBLE AS ended_ms,
       greatest(0, epoch_ms($now::TIMESTAMPTZ) - epoch_ms(i.started_at))::DOUBLE AS age_ms,
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
          AND (i.ended_at IS NULL OR a.started_at <= i.ended_at)) AS episodes_json
FROM shown i
ORDER BY i.is_open DESC,
         CASE WHEN i.is_open THEN i.severity = 'critical' END DESC,
         CASE WHEN i.is_open THEN i.started_at END,
         CASE WHEN NOT i.is_open THEN i.ended_at END DESC,
         i.incident_id;
