-- id: rbac-binding-to-serviceaccount-created
-- title: Binding grants a role to a service account
-- severity: Informational
-- mitre: T1098.006
-- tags: rbac, change-tracking
-- behaviours: 56
-- level: Request
-- mode: event
-- output: {user_name} granted {role_ref} to service account(s) {service_accounts} with {object_resource} {target} from {source_ip}
-- description: A RoleBinding or ClusterRoleBinding was created with a ServiceAccount subject.
--   Service-account tokens live inside pods, so rights granted to a service account are rights
--   for whoever runs code in those pods. Use this trail to see which workloads gained which
--   roles. Control-plane components and kube-system controllers are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name,
       COALESCE(object_namespace || '/', '') || object_name AS target, role_ref, service_accounts
FROM (
  SELECT *,
         COALESCE(json_value(request_object, '$.roleRef.name'),
                  json_value(response_object, '$.roleRef.name')) AS role_ref,
         -- a ServiceAccount subject without namespace means the binding's own namespace
         array_to_string(json_values(COALESCE(request_object, response_object),
           '$.subjects[?@.kind == "ServiceAccount"].name'), ', ') AS service_accounts
  FROM events_with_principal
  WHERE object_resource IN ('rolebindings', 'clusterrolebindings')
    AND object_subresource IS NULL
    AND verb = 'create'
)
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  AND service_accounts <> ''
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
