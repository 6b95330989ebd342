-- id: privileged-clusterrolebinding-created
-- title: ClusterRoleBinding to a privileged ClusterRole
-- severity: Warning
-- mitre: T1098.006
-- tags: rbac, privilege-escalation, persistence
-- behaviours: 52
-- equivalents: Attach to cluster-admin Role | Kubernetes.ClusterRoleBinding.Privileged
-- level: Request
-- mode: event
-- output: {user_name} bound ClusterRole {role_ref} cluster-wide to {subjects} ({verb} ClusterRoleBinding {object_name}) from {source_ip}
-- description: A ClusterRoleBinding was created or changed so that its subjects hold a privileged
--   ClusterRole (list privileged_roles: cluster-admin, admin, system:masters, controller roles) in
--   every namespace. This is the usual way to turn a foothold into full control of the cluster or
--   to leave a durable backdoor identity. Check who the subjects are and whether the change was
--   planned. Control-plane components and kube-system controllers are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_name, role_ref, subjects, subject_kinds
FROM (
  SELECT *,
         -- roleRef is immutable; a patch body may carry only subjects, the stored object has both
         COALESCE(json_value(request_object, '$.roleRef.name'),
                  json_value(response_object, '$.roleRef.name')) AS role_ref,
         array_to_string(json_values(COALESCE(response_object, request_object), '$.subjects[*].name'), ', ') AS subjects,
         array_to_string(json_values(COALESCE(response_object, request_object), '$.subjects[*].kind'), ', ') AS subject_kinds
  FROM events_with_principal
  WHERE object_resource = 'clusterrolebindings'
    AND object_subresource IS NULL
    AND verb IN ('create', 'update', 'patch')
)
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  AND in_list(role_ref, 'privileged_roles')
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
