-- title: Impersonation
-- description: Requests made on behalf of another identity (kubectl --as), who impersonated whom,
--   and whether it was allowed.
SELECT stage_at, cluster, user_name AS impersonator, impersonated_user_name AS impersonated,
       impersonated_user_groups, verb, object_resource, object_namespace, object_name,
       response_code, audit_id
FROM events_dedup
WHERE impersonated_user_name IS NOT NULL
ORDER BY stage_at
