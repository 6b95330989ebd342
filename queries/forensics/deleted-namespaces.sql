-- title: Deleted namespaces
-- description: Namespaces deleted (allowed), by whom and when.
SELECT stage_at, cluster, user_name, source_ip, object_name AS namespace, audit_id
FROM events_dedup
WHERE object_resource = 'namespaces'
  AND coalesce(object_api_group, '') = ''
  AND verb = 'delete'
  AND response_code BETWEEN 200 AND 299
ORDER BY stage_at
