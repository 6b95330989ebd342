-- id: first-seen-identity-write
-- title: Identity never seen writing before makes its first change
-- severity: Notice
-- mitre: T1078, T1136
-- tags: baseline, initial-access, persistence
-- behaviours: 101
-- level: Metadata
-- mode: sequence
-- window: 30d
-- filter: verb IN ('create', 'update', 'patch', 'delete', 'deletecollection')
--   AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND response_code BETWEEN 200 AND 299
--   AND COALESCE(object_subresource, '') <> 'status'
--   AND COALESCE(object_resource, '') NOT IN ('leases', 'events', 'tokenreviews', 'subjectaccessreviews',
--                                             'selfsubjectaccessreviews', 'selfsubjectrulesreviews',
--                                             'localsubjectaccessreviews')
--   AND user_name NOT LIKE 'system:node:%'
--   AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
--   AND user_name NOT IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver',
--                         'system:kube-proxy', 'system:anonymous')
-- compact: cluster, user_name
-- dedup: cluster, user_name
-- suppress: 24h
-- output: {user_name} made its first change in {baseline_days} days of history: {verb} {object_resource} {target} from {source_ip} ({user_agent})
-- description: An identity (a person, a certificate, a service account) that made no successful
--   change in the last 30 days just created, changed or deleted something. New administrators
--   and new applications appear now and then, but so do stolen or freshly minted credentials
--   (a new client certificate, a new token, an unknown OIDC user) and forgotten accounts coming
--   back to life. Nothing is reported until the window holds at least 7 days of history, so a
--   fresh install does not report every identity once. Nodes and control-plane components are
--   ignored (new nodes join all the time); anonymous writes have their own rules.
WITH writes AS (
  SELECT cluster,
         audit_id,
         COALESCE(stage_at, request_received_at) AS t,
         user_name,
         source_ip,
         user_agent,
         verb,
         object_resource,
         object_namespace,
         object_name,
         -- objects named by the API server (generateName) have their name in the response
         CASE
           WHEN COALESCE(object_name, '') <> '' THEN COALESCE(object_namespace || '/', '') || object_name
           WHEN json_value(response_object, '$.metadata.name') IS NOT NULL
             THEN COALESCE(object_namespace || '/', '') || json_value(response_object, '$.metadata.name')
           ELSE COALESCE('namespace ' || object_namespace, 'cluster-wide')
         END AS target
  FROM new_events
),
history AS (
  SELECT cluster, min(COALESCE(stage_at, request_received_at)) AS since
  FROM events
  GROUP BY cluster
),
first_seen AS (
  -- each identity's first write in the window: one pass, however busy the identity
  SELECT cluster, user_name, min(COALESCE(stage_at, request_received_at)) AS first_at
  FROM events
  GROUP BY cluster, user_name
),
firsts AS (
  SELECT w.*,
         row_number() OVER (PARTITION BY w.cluster, w.user_name ORDER BY w.t, w.audit_id) AS rn
  FROM writes w
  LEFT JOIN first_seen o
    ON o.cluster = w.cluster
   AND o.user_name = w.user_name
  -- no earlier write by this identity in the window
  WHERE o.first_at IS NULL OR w.t <= o.first_at
)
SELECT f.cluster,
       f.audit_id,
       f.t AS time,
       f.user_name,
       f.source_ip,
       f.user_agent,
       f.verb,
       f.object_resource,
       f.object_namespace,
       f.object_name,
       f.target,
       CAST(floor((date_part('epoch', f.t) - date_part('epoch', h.since)) / 86400) AS BIGINT) AS baseline_days
FROM firsts f
JOIN history h
  ON h.cluster = f.cluster
WHERE f.rn = 1
  -- warm-up: the baseline must cover at least 7 days
  AND h.since <= f.t - INTERVAL '7 days'
