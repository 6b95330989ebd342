-- title: Everything an identity did
-- description: Every request made by a user or service account in a time range (one row per
--   request), oldest first. Requests it made while impersonating someone count too.
-- param: user: user name, e.g. alice@example.com or system:serviceaccount:ci:deployer
-- param: from (default '1970-01-01T00:00:00Z'): start of the range (RFC 3339, UTC)
-- param: to (default '2100-01-01T00:00:00Z'): end of the range, exclusive
SELECT stage_at, cluster, verb, request_uri, object_resource, object_subresource,
       object_namespace, object_name, impersonated_user_name, source_ip, response_code, audit_id
FROM events_dedup
WHERE user_name = $user
  AND stage_at >= CAST($from AS TIMESTAMP)
  AND stage_at < CAST($to AS TIMESTAMP)
ORDER BY stage_at, audit_id
