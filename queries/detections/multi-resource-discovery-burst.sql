-- id: multi-resource-discovery-burst
-- title: Discovery of several sensitive resource kinds in a short burst
-- severity: Informational
-- mitre: T1613, T1087.004, T1069.003
-- tags: discovery
-- behaviours: 8
-- level: Metadata
-- mode: window
-- window: 2m
-- every: 1m
-- filter: COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND verb IN ('get', 'list')
--   AND object_subresource IS NULL
--   AND object_resource IN ('namespaces', 'nodes', 'pods', 'secrets', 'configmaps', 'serviceaccounts',
--                           'roles', 'rolebindings', 'clusterroles', 'clusterrolebindings')
--   AND COALESCE(user_name, '') NOT IN ('', 'system:anonymous')
--   AND user_name NOT LIKE 'system:node:%'
--   AND user_name NOT LIKE 'system:kube-%'
--   AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
--   AND user_name NOT LIKE 'eks:%'
-- dedup: cluster, user_name, source_ip
-- suppress: 1h
-- output: {user_name} read {kinds} kinds of cluster objects within 2 minutes ({resources}) from {source_ip} with {user_agent}
-- description: One identity read at least three of namespaces, nodes, pods, secrets,
--   configmaps, service accounts and RBAC objects within two minutes, from one address and
--   client. That sweep is what an intruder does first to map a cluster, by hand or with a
--   tool. People browsing with a terminal UI do it too, which is why this is informational:
--   it matters when the identity is a workload's service account or an unfamiliar client.

-- Informers (controllers, operators) list with resourceVersion=0 when they start and then
-- watch; kubectl and scripts do not send it. Those start-up lists are left out.
SELECT cluster,
       array_agg(audit_id) AS audit_ids,
       max(stage_at) AS time,
       user_name,
       source_ip,
       COALESCE(user_agent, '') AS user_agent,
       count(DISTINCT object_resource) AS kinds,
       array_to_string(array_sort(array_agg(DISTINCT object_resource)), ', ') AS resources
FROM events
WHERE COALESCE(request_uri, '') NOT LIKE '%resourceVersion=0%'
  AND NOT in_list(user_name, 'known_controllers')
GROUP BY cluster, user_name, source_ip, COALESCE(user_agent, '')
HAVING count(DISTINCT object_resource) >= 3
