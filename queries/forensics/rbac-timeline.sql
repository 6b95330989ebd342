-- title: RBAC change timeline
-- description: Every write to roles, cluster roles and bindings, allowed or refused, oldest first,
--   with the role a binding grants and its subjects.
-- param: from (default '1970-01-01T00:00:00Z'): start of the range (RFC 3339, UTC)
SELECT stage_at, cluster, user_name, verb, object_resource, object_namespace, object_name,
       role_ref, subjects, allowed, response_code, audit_id
FROM rbac_changes
WHERE stage_at >= CAST($from AS TIMESTAMP)
ORDER BY stage_at, audit_id
