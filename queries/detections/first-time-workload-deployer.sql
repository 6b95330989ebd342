-- id: first-time-workload-deployer
-- title: Identity deploys workloads for the first time in 30 days
-- severity: Notice
-- mitre: T1078, T1610
-- tags: execution, baseline, workload
-- behaviours: 49
-- level: Metadata
-- mode: sequence
-- window: 30d
-- filter: object_resource IN ('pods', 'deployments', 'daemonsets', 'statefulsets', 'replicasets',
--     'jobs', 'cronjobs')
--   AND object_subresource IS NULL
--   AND verb IN ('create', 'update', 'patch')
--   AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND response_code BETWEEN 200 AND 299
--   AND NOT (user_name LIKE 'system:%' AND user_name NOT LIKE 'system:serviceaccount:%')
--   AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
--   AND user_name NOT LIKE 'eks:%'
--   AND user_name NOT IN ('aksService', 'masterclient')
-- compact: cluster, user_name
-- dedup: cluster, user_name
-- suppress: 24h
-- output: {user_name} wrote {object_resource} {object_namespace}/{object_name} ({verb}), its first workload write in 30 days, from {source_ip} with {user_agent}
-- description: A person or service account created or changed a pod or workload (Deployment,
--   DaemonSet, StatefulSet, ReplicaSet, Job, CronJob) and has not written any workload in the
--   previous 30 days. Deployments normally come from a small, stable set of people and pipelines; a
--   new deployer is a new colleague or pipeline, or stolen credentials being used to run code in
--   the cluster. Controllers, nodes, the control plane and `known_controllers` are not counted. The
--   rule stays silent until it holds 7 days of history, so a fresh start or an empty store does not
--   report every deployer as new.
WITH writes AS (
  SELECT e.cluster, e.audit_id, COALESCE(e.stage_at, e.request_received_at) AS at, e.user_name
  FROM events e
  LEFT JOIN known_controllers kc ON kc.value = e.user_name
  WHERE kc.value IS NULL
    AND e.user_name IS NOT NULL
),
history AS (
  -- how far back this cluster's window reaches
  SELECT cluster, min(at) AS oldest FROM writes GROUP BY cluster
),
first_writes AS (
  SELECT cluster, user_name, min(at) AS first_at FROM writes GROUP BY cluster, user_name
)
SELECT n.cluster, n.audit_id, f.first_at AS time, n.user_name, n.source_ip, n.user_agent, n.verb,
       n.object_resource, n.object_namespace,
       COALESCE(n.object_name,
                json_value(n.response_object, '$.metadata.name'),
                json_value(n.request_object, '$.metadata.generateName')) AS object_name
FROM new_events n
-- no earlier workload write by this identity in the window
JOIN first_writes f
  ON f.cluster = n.cluster
 AND f.user_name = n.user_name
 AND f.first_at = COALESCE(n.stage_at, n.request_received_at)
JOIN history h ON h.cluster = n.cluster
WHERE h.oldest <= f.first_at - INTERVAL '7 days'
