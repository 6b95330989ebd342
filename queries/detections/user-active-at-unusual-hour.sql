-- id: user-active-at-unusual-hour
-- title: User active at an hour of the day they never work
-- severity: Notice
-- mitre: T1078
-- tags: baseline, initial-access
-- behaviours: 102
-- level: Metadata
-- mode: sequence
-- window: 30d
-- filter: user_name NOT LIKE 'system:%'
--   AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND verb <> 'watch'
-- compact: cluster, user_name, date_trunc('hour', COALESCE(stage_at, request_received_at))
-- dedup: cluster, user_name
-- suppress: 12h
-- output: {user_name} is active at {hour_utc}:00 UTC ({verb} {object_resource} from {source_ip}, {user_agent}); in {active_days} active days they never worked within an hour of that time
-- description: A user (not a system: identity) made requests at an hour of the day (UTC) at
--   which they have not been active, give or take an hour, on any day of the last 30. Stolen
--   credentials are often used while their owner sleeps, from another time zone. Users are
--   judged only once they have at least 7 active days spread over at least 7 days of history;
--   one alert per user per 12 hours.
WITH history AS (
  -- one row per user and clock hour seen in the window
  SELECT cluster,
         user_name,
         date_trunc('hour', COALESCE(stage_at, request_received_at)) AS bucket
  FROM events
  GROUP BY cluster, user_name, date_trunc('hour', COALESCE(stage_at, request_received_at))
),
new_rows AS (
  SELECT cluster,
         audit_id,
         COALESCE(stage_at, request_received_at) AS t,
         date_trunc('hour', COALESCE(stage_at, request_received_at)) AS bucket,
         user_name,
         source_ip,
         user_agent,
         verb,
         object_resource,
         row_number() OVER (PARTITION BY cluster, user_name,
                                         date_trunc('hour', COALESCE(stage_at, request_received_at))
                            ORDER BY COALESCE(stage_at, request_received_at), audit_id) AS rn
  FROM new_events
),
-- the user's activity before the current hour and the one before it
profile AS (
  SELECT n.cluster,
         n.user_name,
         n.bucket,
         count(DISTINCT date_trunc('day', h.bucket)) AS active_days,
         min(h.bucket) AS first_seen,
         -- nearest hour of the day seen before, as a circular distance (0..12)
         min(least(abs(CAST(date_part('hour', h.bucket) AS BIGINT) - CAST(date_part('hour', n.bucket) AS BIGINT)),
                   24 - abs(CAST(date_part('hour', h.bucket) AS BIGINT) - CAST(date_part('hour', n.bucket) AS BIGINT)))) AS nearest_hour_gap
  FROM (SELECT DISTINCT cluster, user_name, bucket FROM new_rows) n
  JOIN history h
    ON h.cluster = n.cluster
   AND h.user_name = n.user_name
   AND h.bucket < n.bucket - INTERVAL '1 hour'
  GROUP BY n.cluster, n.user_name, n.bucket
)
SELECT n.cluster,
       n.audit_id,
       n.t AS time,
       n.user_name,
       n.source_ip,
       n.user_agent,
       n.verb,
       n.object_resource,
       CAST(date_part('hour', n.bucket) AS BIGINT) AS hour_utc,
       p.active_days
FROM new_rows n
JOIN profile p
  ON p.cluster = n.cluster
 AND p.user_name = n.user_name
 AND p.bucket = n.bucket
WHERE n.rn = 1
  AND p.active_days >= 7
  AND p.first_seen <= n.bucket - INTERVAL '7 days'
  AND p.nearest_hour_gap > 1
