-- title: Privileged pods created
-- description: Pods created with a privileged container (needs Request or RequestResponse logging
--   of pod creations), allowed.
SELECT stage_at, cluster, user_name, object_namespace,
       coalesce(object_name, json_get_str(request_object, 'metadata', 'name')) AS pod, audit_id
FROM events_dedup
WHERE object_resource = 'pods'
  AND coalesce(object_api_group, '') = ''
  AND object_subresource IS NULL
  AND verb = 'create'
  AND response_code BETWEEN 200 AND 299
  AND array_has(json_values(request_object,
        '$.spec["containers","initContainers","ephemeralContainers"][*].securityContext.privileged'),
        'true')
ORDER BY stage_at
