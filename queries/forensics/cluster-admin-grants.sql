-- title: Grants of cluster-admin
-- description: Bindings created or changed to grant the cluster-admin role, allowed, with their
--   subjects.
SELECT stage_at, cluster, user_name, verb, object_resource, object_namespace, object_name,
       subjects, audit_id
FROM rbac_changes
WHERE allowed
  AND object_resource IN ('rolebindings', 'clusterrolebindings')
  AND verb IN ('create', 'update', 'patch')
  AND role_ref = 'cluster-admin'
ORDER BY stage_at
