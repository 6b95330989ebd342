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
-- dedup: cluster, user_name
-- suppress: 12h
-- output: {user_name} is active at {hour_utc}:00 UTC ({verb} {object_resource} from {source_ip}, {user_agent}); in {active_days} active days they never worked within an hour of that time
-- description: A user (not a system: identity) made requests at an hour of the day (UTC) at
--   which they have not been active, give or take an hour, on any day of the last 30. Stolen
--   credentials are often used while their owner sleeps, from another time zone. Users are
--   judged only once they have at least 7 active days spread over at least 7 days of history;
--   one alert per user per 12 hours.
WITH history AS (
  SELECT cluster,
         user_name,
         COALESCE(stage_at, request_received_at) AS t
  FROM events
),
new_rows AS (
  SELECT cluster,
         audit_id,
         COALESCE(stage_at, request_received_at) AS t,
         CAST(date_part('hour', COALESCE(stage_at, request_received_at)) AS BIGINT) AS hour_utc,
         user_name,
         source_ip,
         user_agent,
         verb,
         object_resource
  FROM new_events
),
first_new AS (
  SELECT *,
         row_number() OVER (PARTITION BY cluster, user_name ORDER BY t, audit_id) AS rn
  FROM new_rows
),
-- what each user did before the current activity (history up to one hour before it)
profile AS (
  SELECT n.cluster,
         n.user_name,
         n.audit_id,
         count(DISTINCT date_trunc('day', h.t)) AS active_days,
         min(h.t) AS first_seen,
         -- hours of the day seen, as a circular distance to the new event's hour
         min(least(abs(CAST(date_part('hour', h.t) AS BIGINT) - n.hour_utc),
                   24 - abs(CAST(date_part('hour', h.t) AS BIGINT) - n.hour_utc))) AS nearest_hour_gap
  FROM first_new n
  JOIN history h
    ON h.cluster = n.cluster
   AND h.user_name = n.user_name
   AND h.t < n.t - INTERVAL '1 hour'
  WHERE n.rn = 1
  GROUP BY n.cluster, n.user_name, n.audit_id
)
SELECT n.cluster,
       n.audit_id,
       n.t AS time,
       n.user_name,
       n.source_ip,
       n.user_agent,
       n.verb,
       n.object_resource,
       n.hour_utc,
       p.active_days
FROM first_new n
JOIN profile p
  ON p.audit_id = n.audit_id
WHERE n.rn = 1
  AND p.active_days >= 7
  AND p.first_seen <= n.t - INTERVAL '7 days'
  AND p.nearest_hour_gap > 1
