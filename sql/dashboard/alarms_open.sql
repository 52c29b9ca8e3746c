-- Dashboard: open alarms (gold_alarms rows whose episode has not ended), critical first, then
-- oldest first. Age is in data time: $now (newest event in silver) minus started_at.
-- Parameters: $now (TIMESTAMPTZ as text). At most 200 rows: past that the page says "200+".
SELECT alarm_id, severity, rule, device_id, building, floor::INTEGER AS floor, type,
       epoch_ms(started_at)::DOUBLE AS started_ms,
       greatest(0, epoch_ms($now::TIMESTAMPTZ) - epoch_ms(started_at))::DOUBLE AS age_ms,
       peak_value::DOUBLE AS peak_value, threshold::DOUBLE AS threshold,
       readings::DOUBLE AS readings
FROM gold_alarms
WHERE ended_at IS NULL
ORDER BY severity = 'critical' DESC, started_at, alarm_id
LIMIT 201;
