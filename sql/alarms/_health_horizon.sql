-- gold/device_health as the incidents read it (device_id, building, last_seen; not a rule),
-- brought up to date from its {{previous}} rows and the silver rows added since ({{new_rows}})
-- when device_health itself has not been refreshed yet this cycle (src/gold/schedule.ts).
-- The same values device_health.sql gives those columns: last_seen is the device's newest
-- reading ever, building the one of that reading.
SELECT device_id, arg_max(building, last_seen) AS building, max(last_seen) AS last_seen
FROM (
  SELECT device_id, building, last_seen FROM {{previous}}
  UNION ALL
  SELECT device_id, arg_max(building, timestamp)::VARCHAR, max(timestamp)
  FROM {{new_rows}}
  GROUP BY device_id
)
GROUP BY device_id
