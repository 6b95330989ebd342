-- id: access-granted-to-anonymous-users
-- title: Role granted to anonymous or all authenticated users
-- severity: Error
-- mitre: T1098.006, T1078.001
-- tags: rbac, initial-access, persistence
-- behaviours: 55
-- level: Request
-- mode: event
-- output: {user_name} granted {role_ref} to {granted_to} with {object_resource} {target} from {source_ip}
-- description: A binding gives a role to system:anonymous, to the group system:unauthenticated,
--   or to system:authenticated (every identity the cluster accepts; on some managed platforms any
--   account of the cloud provider). Anyone who can reach the API server then holds these rights
--   without credentials of their own. The default discovery roles Kubernetes itself binds to
--   these groups are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name,
       COALESCE(object_namespace || '/', '') || object_name AS target, role_ref, granted_to
FROM (
  SELECT *,
         COALESCE(json_value(request_object, '$.roleRef.name'),
                  json_value(response_object, '$.roleRef.name')) AS role_ref,
         array_to_string(json_values(COALESCE(response_object, request_object),
           '$.subjects[?@.name == "system:anonymous" || @.name == "system:unauthenticated" || @.name == "system:authenticated"].name'),
           ', ') AS granted_to
  FROM events
  WHERE object_resource IN ('rolebindings', 'clusterrolebindings')
    AND object_subresource IS NULL
    AND verb IN ('create', 'update', 'patch')
)
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  AND granted_to <> ''
  -- bootstrap roles the API server binds to these groups by default
  AND COALESCE(role_ref, '') NOT IN ('system:basic-user', 'system:discovery',
                                     'system:public-info-viewer', 'system:service-account-issuer-discovery')
  AND COALESCE(user_name, '') <> 'system:apiserver'
