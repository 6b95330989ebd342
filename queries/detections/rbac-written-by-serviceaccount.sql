-- id: rbac-written-by-serviceaccount
-- title: RBAC object changed by a service account
-- severity: Notice
-- mitre: T1098.006
-- tags: rbac, privilege-escalation
-- behaviours: 63
-- level: Metadata
-- mode: event
-- output: Service account {user_name} {verb} {object_resource} {target} from {source_ip} ({user_agent})
-- description: A service account created, changed or deleted a Role, ClusterRole or binding.
--   Service-account tokens are the credentials an attacker finds inside a compromised pod; using
--   one to rewrite RBAC is how a pod foothold becomes lasting, wider access. Operators that
--   manage RBAC by design (GitOps agents, operator lifecycle managers) belong in
--   known_controllers; kube-system controllers are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name,
       COALESCE(object_namespace || '/', '') || object_name AS target
FROM events_with_principal
WHERE object_resource IN ('roles', 'clusterroles', 'rolebindings', 'clusterrolebindings')
  AND object_subresource IS NULL
  AND verb IN ('create', 'update', 'patch', 'delete', 'deletecollection')
  AND user_name LIKE 'system:serviceaccount:%'
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
