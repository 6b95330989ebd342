-- id: user-request-volume-spike
-- title: User's request volume far above their usual hourly rate
-- severity: Notice
-- mitre: T1078, T1613, T1530
-- tags: baseline, discovery, collection, window
-- behaviours: 102
-- level: Metadata
-- mode: window
-- window: 8d
-- every: 10m
-- filter: user_name NOT LIKE 'system:%'
--   AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
-- dedup: cluster, user_name
-- suppress: 2h
-- output: {user_name} made {requests_last_hour} requests in the last hour ({resources_last_hour} resources, from {addresses}); usual hour {usual_per_hour} (sd {stddev_per_hour}), busiest hour before {busiest_hour} over {active_hours} active hours
-- description: A user (not a system: identity) made far more API requests in the last hour than
--   in any hour of the previous week: at least 300, at least twice their busiest earlier hour and
--   more than four standard deviations above their usual active hour. Bulk reading (dumping
--   secrets, config maps or every pod spec), scripted enumeration and mass changes all look like
--   this, whether from a person or from a stolen credential driven by a tool. Users need at
--   least 24 active hours of history before they are judged. Evaluated every 10 minutes over a
--   sliding hour.
WITH req AS (
  SELECT cluster,
         user_name,
         audit_id,
         source_ip,
         object_resource,
         COALESCE(stage_at, request_received_at) AS t
  FROM events
),
clock AS (
  SELECT cluster, max(t) AS now FROM req GROUP BY cluster
),
recent AS (
  SELECT r.cluster,
         r.user_name,
         count(DISTINCT r.audit_id) AS requests_last_hour,
         count(DISTINCT r.object_resource) AS resources_last_hour,
         array_to_string(array_agg(DISTINCT r.source_ip), ', ') AS addresses,
         array_slice(array_agg(DISTINCT r.audit_id), 1, 20) AS audit_ids,
         max(r.t) AS time
  FROM req r
  JOIN clock c ON c.cluster = r.cluster
  WHERE r.t > c.now - INTERVAL '1 hour'
  GROUP BY r.cluster, r.user_name
),
hourly AS (
  SELECT r.cluster,
         r.user_name,
         date_trunc('hour', r.t) AS hour,
         count(DISTINCT r.audit_id) AS n
  FROM req r
  JOIN clock c ON c.cluster = r.cluster
  WHERE r.t <= c.now - INTERVAL '1 hour'
  GROUP BY r.cluster, r.user_name, date_trunc('hour', r.t)
),
usual AS (
  SELECT cluster,
         user_name,
         count(*) AS active_hours,
         avg(n) AS mean_n,
         stddev_pop(n) AS sd_n,
         max(n) AS busiest_hour
  FROM hourly
  GROUP BY cluster, user_name
)
SELECT r.cluster,
       r.audit_ids,
       r.time,
       r.user_name,
       r.addresses,
       r.requests_last_hour,
       r.resources_last_hour,
       u.active_hours,
       CAST(round(u.mean_n) AS BIGINT) AS usual_per_hour,
       CAST(round(u.sd_n) AS BIGINT) AS stddev_per_hour,
       u.busiest_hour
FROM recent r
JOIN usual u
  ON u.cluster = r.cluster
 AND u.user_name = r.user_name
WHERE u.active_hours >= 24
  AND r.requests_last_hour >= 300
  AND r.requests_last_hour >= 2 * u.busiest_hour
  AND r.requests_last_hour > u.mean_n + 4 * u.sd_n
