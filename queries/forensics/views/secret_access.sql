-- Every completed request on a Secret: who, what, which secret, and whether it was allowed.
--   allowed  the request was authorized and answered 2xx
SELECT cluster, audit_id, stage_at, user_name, user_groups, impersonated_user_name, source_ip,
       user_agent, verb, object_namespace, object_name, response_code,
       coalesce(response_code BETWEEN 200 AND 299, false) AS allowed
FROM events
WHERE object_resource = 'secrets'
  AND coalesce(object_api_group, '') = ''
  AND coalesce(stage, 'ResponseComplete') IN ('ResponseComplete', 'Panic')
