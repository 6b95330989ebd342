-- Every write to RBAC objects (roles, cluster roles and their bindings), allowed or not, with the
-- binding's role and subjects when the request body was logged.
SELECT cluster, audit_id, stage_at, user_name, impersonated_user_name, source_ip, verb,
       object_resource, object_namespace,
       coalesce(object_name, json_get_str(request_object, 'metadata', 'name')) AS object_name,
       response_code,
       coalesce(response_code BETWEEN 200 AND 299, false) AS allowed,
       json_get_str(request_object, 'roleRef', 'name') AS role_ref,
       json_values(request_object, '$.subjects[*].name') AS subjects
FROM events
WHERE object_api_group = 'rbac.authorization.k8s.io'
  AND object_resource IN ('roles', 'rolebindings', 'clusterroles', 'clusterrolebindings')
  AND verb IN ('create', 'update', 'patch', 'delete', 'deletecollection')
  AND coalesce(stage, 'ResponseComplete') IN ('ResponseComplete', 'Panic')
