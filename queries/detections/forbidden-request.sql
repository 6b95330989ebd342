-- id: forbidden-request
-- title: Request refused by authentication or authorization
-- severity: Informational
-- mitre: T1078, T1613
-- tags: discovery, authorization, authentication
-- behaviours: 4
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, source_ip, verb, object_resource, object_namespace
-- suppress: 10m
-- output: {caller} was refused {verb} {target} ({response_code}) from {source_ip} with {user_agent}
-- description: The API server refused a request: 401 (credentials not accepted) or 403 /
--   authorization decision forbid. One refusal is usually a misconfigured client or missing
--   RBAC, but refusals are also the first trace of someone trying a stolen or guessed
--   credential. This feed gives the context for the burst and enumeration rules.

-- Refused anonymous requests are left to the scan rules (unauthenticated-scan-burst,
-- public-ip-403-burst): on an internet-facing API server they arrive constantly. A 401 is
-- logged without a user (the credentials were not accepted), hence `caller`.
SELECT cluster,
       audit_id,
       stage_at AS time,
       COALESCE(NULLIF(user_name, ''), '(credentials rejected)') AS caller,
       user_name,
       -- what was asked for: resource[/subresource] namespace/name, or the path of a
       -- non-resource URL
       CASE WHEN object_resource IS NULL THEN split_part(request_uri, '?', 1)
            ELSE concat_ws(' ', object_resource || COALESCE('/' || object_subresource, ''),
                           NULLIF(concat_ws('/', object_namespace, object_name), ''))
       END AS target,
       user_groups,
       impersonated_user_name,
       source_ip,
       user_agent,
       verb,
       request_uri,
       object_resource,
       object_subresource,
       object_namespace,
       object_name,
       response_code,
       response_reason,
       authz_decision,
       authz_reason
FROM events
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND (response_code IN (401, 403) OR authz_decision = 'forbid')
  AND COALESCE(user_name, '') <> 'system:anonymous'
