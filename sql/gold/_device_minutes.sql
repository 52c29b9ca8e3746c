-- Device-minutes (a helper, not a table): per device and UTC minute of event time, the sum,
-- count, lowest and highest of its readings, the list of their values (in no order) and the
-- time of its last reading.
-- Every windowed gold table is a roll-up of it, exactly: sums, counts and extremes add up, a
-- coarser window's p95 is list_quantile over all the values of its device-minutes (never a
-- percentile of percentiles), and its distinct devices are its distinct device_ids. Silver is
-- read once per refresh (from {{silver}}, which holds whole hours) instead of once per table.
SELECT
  minute_day(minute) AS day,
  minute_start(minute) AS window_start,
  building,
  floor,
  type,
  device_id,
  sum,
  count,
  min,
  max,
  value_list,
  last_ts
FROM (
  SELECT
    epoch_minute(timestamp) AS minute,
    building,
    floor,
    type,
    device_id,
    sum(value) AS sum,
    count(*) AS count,
    min(value) AS min,
    max(value) AS max,
    list(value) AS value_list,
    max(timestamp) AS last_ts
  FROM {{silver}}
  GROUP BY ALL
)
