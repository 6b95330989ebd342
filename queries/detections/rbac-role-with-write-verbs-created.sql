-- id: rbac-role-with-write-verbs-created
-- title: Role or ClusterRole with write verbs created
-- severity: Notice
-- mitre: T1098.006
-- tags: rbac, change-tracking
-- behaviours: 58
-- equivalents: ClusterRole With Write Privileges Created | Kubernetes.Role.WritePermissions
-- level: Request
-- mode: event
-- output: {user_name} created {object_resource} {target} with write verbs {write_verbs}: {rules} from {source_ip}
-- description: A Role or ClusterRole was created that can create, update, patch or delete
--   objects (or non-resource URLs). Write access is what turns read-only reconnaissance into
--   changes to workloads, secrets or RBAC; review new roles that grant it. Control-plane
--   components and kube-system controllers are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name,
       COALESCE(object_namespace || '/', '') || object_name AS target,
       array_to_string(array_intersect(json_values(request_object, '$.rules[*].verbs[*]'),
                                       make_array('create', 'update', 'patch', 'delete', 'deletecollection', '*')),
                       ', ') AS write_verbs,
       json_value(request_object, '$.rules') AS rules
FROM events_with_principal
WHERE object_resource IN ('roles', 'clusterroles')
  AND object_subresource IS NULL
  AND verb = 'create'
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  AND array_has_any(json_values(request_object, '$.rules[*].verbs[*]'),
                    make_array('create', 'update', 'patch', 'delete', 'deletecollection', '*'))
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
