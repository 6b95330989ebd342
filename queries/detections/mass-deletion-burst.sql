-- id: mass-deletion-burst
-- title: Mass deletion by one identity
-- severity: Warning
-- mitre: T1485, T1489
-- tags: impact, data-destruction, window
-- behaviours: 104, 89
-- level: Metadata
-- mode: window
-- window: 5m
-- every: 1m
-- filter: verb IN ('delete', 'deletecollection')
--   AND object_subresource IS NULL
--   AND object_resource IN ('namespaces', 'pods', 'persistentvolumeclaims', 'persistentvolumes', 'secrets',
--                           'configmaps', 'deployments', 'statefulsets', 'daemonsets', 'services',
--                           'volumesnapshots', 'jobs', 'cronjobs')
--   AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND response_code BETWEEN 200 AND 299
--   AND COALESCE(request_uri, '') NOT LIKE '%dryRun=All%'
--   AND user_name NOT LIKE 'system:node:%'
--   AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
--   AND user_name NOT IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver')
-- dedup: cluster, user_name
-- suppress: 15m
-- output: {user_name} deleted {deleted_objects} objects in 5 minutes ({kinds}) across namespaces {namespaces} from {addresses}
-- description: One identity deleted at least 20 namespaces, pods, volumes and claims, secrets,
--   config maps, workloads or services within five minutes (a deletecollection counts as one).
--   Wiping an application or a cluster through the API (sabotage, ransom, or a script run
--   against the wrong context) looks like this. Nodes, kube-system controllers, known GitOps
--   controllers (list known_controllers) and Helm's release-history secrets are left out, so
--   routine rollouts and chart uninstalls stay quiet.
WITH deletions AS (
  SELECT cluster,
         audit_id,
         COALESCE(stage_at, request_received_at) AS t,
         user_name,
         source_ip,
         verb,
         object_resource,
         object_namespace,
         object_resource || ':' || COALESCE(object_namespace, '') || ':' || COALESCE(object_name, '*' || audit_id) AS object_key
  FROM events
  WHERE NOT in_list(user_name, 'known_controllers')
    -- Helm keeps one secret per release revision and deletes them all on uninstall
    AND NOT (object_resource = 'secrets' AND COALESCE(object_name, '') LIKE 'sh.helm.release.v1.%')
)
SELECT cluster,
       array_agg(DISTINCT audit_id) AS audit_ids,
       max(t) AS time,
       user_name,
       count(DISTINCT object_key) AS deleted_objects,
       array_to_string(array_agg(DISTINCT object_resource), ', ') AS kinds,
       array_to_string(array_agg(DISTINCT COALESCE(object_namespace, '(cluster)')), ', ') AS namespaces,
       array_to_string(array_agg(DISTINCT source_ip), ', ') AS addresses
FROM deletions
GROUP BY cluster, user_name
HAVING count(DISTINCT object_key) >= 20
