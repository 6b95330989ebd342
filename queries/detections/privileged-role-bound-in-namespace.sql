-- id: privileged-role-bound-in-namespace
-- title: RoleBinding to a cluster-wide privileged ClusterRole
-- severity: Notice
-- mitre: T1098.006
-- tags: rbac, privilege-escalation
-- behaviours: 52
-- level: Request
-- mode: event
-- output: {user_name} bound ClusterRole {role_ref} in namespace {object_namespace} to {subjects} ({verb} RoleBinding {object_name}) from {source_ip}
-- description: A RoleBinding was created or changed so that its subjects hold a privileged
--   ClusterRole (list privileged_roles, e.g. cluster-admin or a controller role) inside one
--   namespace: full control of that namespace, its secrets and its service-account tokens. The
--   built-in 'admin' ClusterRole, which exists to delegate namespace administration, is not
--   reported here. Control-plane components and kube-system controllers are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name, role_ref, subjects
FROM (
  SELECT *,
         COALESCE(json_value(request_object, '$.roleRef.name'),
                  json_value(response_object, '$.roleRef.name')) AS role_ref,
         COALESCE(json_value(request_object, '$.roleRef.kind'),
                  json_value(response_object, '$.roleRef.kind')) AS role_ref_kind,
         array_to_string(json_values(COALESCE(response_object, request_object), '$.subjects[*].name'), ', ') AS subjects
  FROM events_with_principal
  WHERE object_resource = 'rolebindings'
    AND object_subresource IS NULL
    AND verb IN ('create', 'update', 'patch')
)
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- a namespaced Role that happens to be called cluster-admin grants nothing special
  AND COALESCE(role_ref_kind, 'ClusterRole') = 'ClusterRole'
  AND in_list(role_ref, 'privileged_roles')
  AND role_ref <> 'admin'
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
