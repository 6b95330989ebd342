-- id: rbac-role-with-wildcard-created
-- title: Role or ClusterRole with wildcard verbs or resources created
-- severity: Warning
-- mitre: T1098.006
-- tags: rbac, privilege-escalation
-- behaviours: 57
-- equivalents: ClusterRole With Wildcard Created | Kubernetes.Role.Wildcard
-- level: Request
-- mode: event
-- output: {user_name} created {object_resource} {target} with wildcard rules {rules} from {source_ip}
-- description: A Role or ClusterRole was created with '*' as a verb or a resource. A wildcard
--   grants every current and future action or resource type, including secrets, pods/exec and
--   RBAC itself; on a ClusterRole it amounts to cluster-admin. Roles should name what they need.
--   Control-plane components and kube-system controllers are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name,
       COALESCE(object_namespace || '/', '') || object_name AS target,
       json_value(request_object, '$.rules') AS rules
FROM events_with_principal
WHERE object_resource IN ('roles', 'clusterroles')
  AND object_subresource IS NULL
  AND verb = 'create'
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  AND (array_has(json_values(request_object, '$.rules[*].verbs[*]'), '*')
       OR array_has(json_values(request_object, '$.rules[*].resources[*]'), '*'))
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
