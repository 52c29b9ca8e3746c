-- Dashboard pipeline health: why inputs were rejected in the last hour of ingestion (wall time
-- of the pipeline: ingest_time up to the newest one in quarantine), most frequent first.
-- Reasons are the codes of docs/architecture.md (malformed_json, missing_field:<f>, …).
SELECT reason, count(*)::DOUBLE AS rows
FROM quarantine
WHERE ingest_time > (SELECT max(ingest_time) FROM quarantine) - INTERVAL 1 HOUR
GROUP BY reason
ORDER BY rows DESC, reason
LIMIT 10;
