-- Dashboard: silent devices, as gold/device_health judges them (no reading for longer than
-- max(5 × the device's usual interval, 120 s) before its building's newest reading). Used when
-- gold_device_health exists; silent_devices_silver.sql is the stand-in before gold is built.
SELECT device_id, building, floor::INTEGER AS floor, type,
       epoch_ms(last_seen)::DOUBLE AS last_seen_ms,
       (epoch_ms(as_of) - epoch_ms(last_seen))::DOUBLE AS silent_ms
FROM gold_device_health
WHERE silent OR status = 'silent'
ORDER BY silent_ms DESC, device_id
LIMIT 100;
