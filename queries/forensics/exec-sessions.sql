-- title: Exec sessions by namespace
-- description: Every allowed exec session into a pod, with the container and the command,
--   newest first.
-- param: namespace (default ''): only this namespace; empty for all
SELECT stage_at, cluster, user_name, source_ip, object_namespace, object_name, container,
       command, audit_id
FROM exec_sessions
WHERE $namespace = '' OR object_namespace = $namespace
ORDER BY stage_at DESC, audit_id
