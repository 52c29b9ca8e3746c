-- Device-minutes (a helper, not a table): per device and UTC minute of event time, the sum,
-- count, lowest and highest of its readings, and their values in ascending order.
-- readings_1m is a projection of it and floor_1m adds its devices up per floor, both exactly:
-- sums, counts and extremes add up, a floor's p95 is taken from all its devices' values (not
-- from their p95s), and its distinct devices are its device-minutes. Computed once per refresh
-- from {{silver}}, which holds whole days.
SELECT
  utc_day(timestamp) AS day,
  utc_minute(timestamp) AS window_start,
  building,
  floor,
  type,
  device_id,
  sum(value) AS sum,
  count(*) AS count,
  min(value) AS min,
  max(value) AS max,
  list_sort(list(value)) AS sorted_values
FROM {{silver}}
GROUP BY ALL
