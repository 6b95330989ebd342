-- id: rbac-role-with-node-proxy-created
-- title: Role or ClusterRole granting nodes/proxy created
-- severity: Warning
-- mitre: T1098.006, T1609
-- tags: rbac, privilege-escalation, execution
-- behaviours: 60
-- equivalents: Kubernetes.Role.NodeProxyPermissions
-- level: Request
-- mode: event
-- output: {user_name} created {object_resource} {object_name} granting node proxy access: {rules} from {source_ip}
-- description: A Role or ClusterRole was created that grants nodes/proxy (or nodes/*). Through
--   the API server's node proxy its holder reaches the kubelet API of every node: run commands in
--   any pod on the node and read its logs, bypassing pods/exec rules and leaving only a nodes/proxy
--   entry in the audit log. A bare '*' resource is reported by the wildcard rule instead.
--   Control-plane components and kube-system controllers are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name,
       json_value(request_object, '$.rules') AS rules
FROM (
  SELECT *, json_values(request_object, '$.rules[*].resources[*]') AS resources
  FROM events_with_principal
  WHERE object_resource IN ('roles', 'clusterroles')
    AND object_subresource IS NULL
    AND verb = 'create'
)
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  AND (array_has_any(resources, make_array('nodes/proxy', 'nodes/*'))
       -- '*' listed next to 'nodes': the author meant every node subresource
       OR (array_has(resources, 'nodes') AND array_has(resources, '*')))
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
