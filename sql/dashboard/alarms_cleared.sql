-- Dashboard: recently cleared alarms, the 20 newest episodes that ended in the 24 hours of data
-- time up to $now (newest event in silver), with how long they lasted.
-- Parameters: $now (TIMESTAMPTZ as text).
SELECT alarm_id, severity, rule, device_id, building, floor::INTEGER AS floor, type,
       epoch_ms(started_at)::DOUBLE AS started_ms,
       epoch_ms(ended_at)::DOUBLE AS ended_ms,
       (epoch_ms(ended_at) - epoch_ms(started_at))::DOUBLE AS duration_ms,
       peak_value::DOUBLE AS peak_value, threshold::DOUBLE AS threshold
FROM gold_alarms
WHERE ended_at IS NOT NULL AND ended_at > $now::TIMESTAMPTZ - INTERVAL 24 HOUR
ORDER BY ended_at DESC, alarm_id
LIMIT 20;
