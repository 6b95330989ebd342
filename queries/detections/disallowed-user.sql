-- id: disallowed-user
-- title: Request by a user outside the allowed users
-- severity: Warning
-- mitre: T1078
-- tags: initial-access, allow-list
-- behaviours: 16
-- equivalents: Disallowed K8s User
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name
-- suppress: 1h
-- output: {user_name} (not in allowed_users) {verb} {target} from {source_ip} with {user_agent} (answered {response_code})
-- description: A user that is not on the allowed_users list made a request. On clusters
--   where only a known set of people and automation accounts may act, any other name means
--   an identity provider, certificate or token issuing credentials it should not, or a
--   forgotten account. The rule is off while allowed_users is empty. Cluster-internal
--   identities (system:*) are not checked.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       user_groups,
       source_ip,
       user_agent,
       verb,
       request_uri,
       CASE WHEN object_resource IS NULL THEN split_part(request_uri, '?', 1)
            ELSE concat_ws(' ', object_resource || COALESCE('/' || object_subresource, ''),
                           NULLIF(concat_ws('/', object_namespace, object_name), ''))
       END AS target,
       object_resource,
       object_namespace,
       object_name,
       response_code
FROM events
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND EXISTS (SELECT 1 FROM allowed_users)
  AND COALESCE(user_name, '') <> ''
  AND user_name NOT LIKE 'system:%'
  AND NOT in_list(user_name, 'allowed_users')
