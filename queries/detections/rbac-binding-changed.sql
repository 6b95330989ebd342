-- id: rbac-binding-changed
-- title: RoleBinding or ClusterRoleBinding created, changed or deleted
-- severity: Informational
-- mitre: T1098.006
-- tags: rbac, change-tracking
-- behaviours: 53
-- equivalents: K8s Role/Clusterrolebinding Created | K8s Role/Clusterrolebinding Deleted | K8s RoleBinding Created | K8s RoleBinding Deleted | K8s ClusterRoleBinding Created | K8s ClusterRoleBinding Deleted
-- level: Metadata
-- mode: event
-- output: {user_name} {verb} {object_resource} {target}{details} from {source_ip}
-- description: Change tracking for RBAC bindings: who granted or removed which role for which
--   subjects. Bindings decide every permission in the cluster, so this is the trail to review
--   after any privilege-escalation alert. The role and subjects are shown when the audit policy
--   logs request bodies. Control-plane components and kube-system controllers are not reported.
SELECT cluster, audit_id, time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name, target, role_ref, subjects,
       -- role and subjects are only known when the request body is logged
       CASE WHEN role_ref IS NULL THEN ''
            ELSE ' (role ' || role_ref || ', subjects ' || subjects || ')' END AS details
FROM (
  SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
         object_resource, object_namespace, object_name,
         COALESCE(object_namespace || '/', '') || object_name AS target,
         COALESCE(json_value(request_object, '$.roleRef.name'),
                  json_value(response_object, '$.roleRef.name')) AS role_ref,
         array_to_string(json_values(COALESCE(request_object, response_object), '$.subjects[*].name'), ', ') AS subjects
  FROM events_with_principal
  WHERE object_resource IN ('rolebindings', 'clusterrolebindings')
    AND object_subresource IS NULL
    AND verb IN ('create', 'update', 'patch', 'delete', 'deletecollection')
    AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
    AND response_code BETWEEN 200 AND 299
    -- not the control plane, a kubelet, a kube-system controller or a listed controller
    AND NOT is_cluster_component
)
