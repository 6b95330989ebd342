-- title: Refused, then allowed
-- description: Identities refused (403) a verb on a resource and later allowed the same verb on
--   the same resource: probing until a permission was granted, or a credential switched.
-- param: within (default '1 day'): how soon after the refusal the success came
SELECT denied.user_name, denied.verb, denied.object_resource,
       min(denied.stage_at) AS first_denied, min(allowed.stage_at) AS first_allowed_after,
       count(DISTINCT denied.audit_id) AS denials
FROM auth_failures denied
JOIN events_dedup allowed
  ON allowed.cluster = denied.cluster
 AND allowed.user_name = denied.user_name
 AND allowed.verb = denied.verb
 AND allowed.object_resource = denied.object_resource
 AND allowed.response_code BETWEEN 200 AND 299
 AND allowed.stage_at > denied.stage_at
 AND allowed.stage_at <= denied.stage_at + CAST($within AS INTERVAL)
WHERE denied.failure = 'forbidden'
GROUP BY denied.user_name, denied.verb, denied.object_resource
ORDER BY first_denied
