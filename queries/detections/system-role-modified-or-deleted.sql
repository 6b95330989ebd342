-- id: system-role-modified-or-deleted
-- title: Built-in system Role or ClusterRole modified or deleted
-- severity: Warning
-- mitre: T1098.006, T1036
-- tags: rbac, privilege-escalation, defense-evasion
-- behaviours: 62
-- equivalents: System ClusterRole Modified/Deleted | Kubernetes.SystemRole.Modified
-- level: Metadata
-- mode: event
-- output: {user_name} {verb} {object_resource} {target} from {source_ip}
-- description: A Role or ClusterRole whose name starts with 'system:' or 'eks:' was changed,
--   deleted or created by someone other than the control plane. These roles belong to
--   Kubernetes components (nodes, controllers, the scheduler); widening one silently gives
--   rights to every component that holds it, deleting one breaks the cluster, and a new role
--   named like them hides among them. Roles that change in normal operation are listed in
--   system_roles_expected_to_change.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name,
       COALESCE(object_namespace || '/', '') || object_name AS target
FROM events_with_principal
WHERE object_resource IN ('roles', 'clusterroles')
  AND object_subresource IS NULL
  AND verb IN ('create', 'update', 'patch', 'delete')
  AND (object_name LIKE 'system:%' OR object_name LIKE 'eks:%')
  AND NOT in_list(object_name, 'system_roles_expected_to_change')
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
