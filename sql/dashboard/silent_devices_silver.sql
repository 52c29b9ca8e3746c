-- Dashboard stand-in for silent devices while gold/device_health does not exist yet: devices
-- that reported in the 24 hours of data time up to $now (newest event in silver) but not in the
-- last 5 minutes of it (a fixed limit: gold's rule adapts to each device's interval).
-- Parameters: $now (TIMESTAMPTZ as text).
SELECT device_id, any_value(building) AS building, any_value(floor)::INTEGER AS floor,
       any_value(type) AS type,
       epoch_ms(max(timestamp))::DOUBLE AS last_seen_ms,
       (epoch_ms($now::TIMESTAMPTZ) - epoch_ms(max(timestamp)))::DOUBLE AS silent_ms
FROM silver
WHERE timestamp > $now::TIMESTAMPTZ - INTERVAL 24 HOUR AND timestamp <= $now::TIMESTAMPTZ
GROUP BY device_id
HAVING max(timestamp) < $now::TIMESTAMPTZ - INTERVAL 5 MINUTE
ORDER BY silent_ms DESC, device_id
LIMIT 100;
