-- id: denied-burst-then-write
-- title: Burst of denied requests followed by a first successful write from the same identity and address
-- severity: Warning
-- mitre: T1613, T1078, T1098
-- tags: discovery, privilege-escalation, sequence
-- behaviours: 96
-- level: Metadata
-- mode: sequence
-- window: 35m
-- filter: COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND COALESCE(user_name, '') NOT LIKE 'system:node:%'
--   AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:kube-system:%'
--   AND COALESCE(user_name, '') NOT IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver')
--   AND COALESCE(object_resource, '') NOT IN ('leases', 'events', 'tokenreviews', 'subjectaccessreviews',
--                                             'selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'localsubjectaccessreviews')
--   AND (authz_decision = 'forbid' OR response_code = 403
--     OR (verb IN ('create', 'update', 'patch', 'delete', 'deletecollection') AND response_code BETWEEN 200 AND 299))
-- bodies: response_object($.metadata.name)
-- dedup: cluster, user_name, source_ip
-- suppress: 30m
-- output: {user_name} from {source_ip} was denied {denied_count} requests on {denied_targets} distinct targets ({probed}) in the 30 min before succeeding with {verb} {object_resource} {target} ({user_agent})
-- description: One identity, from one address, was refused at least 10 requests touching at least
--   3 different resources or URLs within 30 minutes, and then its first successful create,
--   update, patch or delete of that half hour went through. Probing what a stolen credential
--   may do and then using the first permission that works is how an intruder turns
--   enumeration into a foothold. A misconfigured application usually fails on one or two
--   resources, not many, and people or pipelines at work keep writing between their occasional
--   refusals, so neither matches. Nodes and control-plane components are ignored; access
--   reviews ("kubectl auth can-i") count neither as denials nor as writes.
WITH new_writes AS (
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
  WHERE verb IN ('create', 'update', 'patch', 'delete', 'deletecollection')
    AND response_code BETWEEN 200 AND 299
    AND COALESCE(authz_decision, 'allow') = 'allow'
),
-- each successful write of the window with the time of the previous one of its identity and
-- address
writes AS (
  SELECT audit_id,
         lag(t) OVER (PARTITION BY cluster, user_name, source_ip ORDER BY t, audit_id)
           AS previous_write_at
  FROM (SELECT cluster, user_name, source_ip, audit_id,
               COALESCE(stage_at, request_received_at) AS t
        FROM events
        WHERE verb IN ('create', 'update', 'patch', 'delete', 'deletecollection')
          AND response_code BETWEEN 200 AND 299
          AND COALESCE(authz_decision, 'allow') = 'allow') w
),
-- new writes that are the first of this identity and address for 30 minutes: someone working
-- normally writes all along and meets an occasional refusal; a foothold comes after the probing
first_writes AS (
  SELECT n.*
  FROM new_writes n
  JOIN writes p ON p.audit_id = n.audit_id
  WHERE p.previous_write_at IS NULL OR p.previous_write_at < n.t - INTERVAL '30 minutes'
),
denied AS (
  SELECT cluster,
         audit_id,
         COALESCE(stage_at, request_received_at) AS t,
         user_name,
         source_ip,
         verb,
         -- non-resource URLs (/metrics, /logs, /debug/pprof) have no resource
         COALESCE(object_resource || COALESCE('/' || object_subresource, ''),
                  split_part(request_uri, '?', 1)) AS what
  FROM events
  WHERE authz_decision = 'forbid' OR response_code = 403
)
SELECT w.cluster,
       w.audit_id,
       w.t AS time,
       w.user_name,
       w.source_ip,
       w.user_agent,
       w.verb,
       w.object_resource,
       w.object_namespace,
       w.object_name,
       w.target,
       count(DISTINCT d.audit_id) AS denied_count,
       count(DISTINCT d.what) AS denied_targets,
       array_to_string(array_agg(DISTINCT d.verb || ' ' || d.what), ', ') AS probed,
       min(d.t) AS first_denied_at
FROM first_writes w
JOIN denied d
  ON d.cluster = w.cluster
 AND d.user_name = w.user_name
 AND d.source_ip = w.source_ip
 AND d.t < w.t
 AND d.t >= w.t - INTERVAL '30 minutes'
GROUP BY w.cluster, w.audit_id, w.t, w.user_name, w.source_ip, w.user_agent, w.verb,
         w.object_resource, w.object_namespace, w.object_name, w.target
HAVING count(DISTINCT d.audit_id) >= 10
   AND count(DISTINCT d.what) >= 3
