-- Requests refused for who made them: 401 (authentication failed) and 403 (not authorized), with
-- the authorizer's reason when it gave one.
SELECT cluster, audit_id, stage_at, user_name, user_groups, source_ip, user_agent, verb,
       request_uri, object_resource, object_subresource, object_namespace, object_name,
       response_code, authz_decision, authz_reason,
       CASE response_code WHEN 401 THEN 'unauthenticated' ELSE 'forbidden' END AS failure
FROM events
WHERE response_code IN (401, 403)
  AND coalesce(stage, 'ResponseComplete') IN ('ResponseComplete', 'ResponseStarted')
