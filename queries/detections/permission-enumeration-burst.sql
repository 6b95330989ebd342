-- id: permission-enumeration-burst
-- title: Permission enumeration by one identity
-- severity: Notice
-- mitre: T1069.003, T1613, T1087.004
-- tags: discovery, authorization
-- behaviours: 6
-- level: Metadata
-- mode: window
-- window: 10m
-- every: 1m
-- filter: COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND authz_decision IN ('allow', 'forbid')
--   AND COALESCE(user_name, '') NOT IN ('', 'system:anonymous')
--   AND user_name NOT LIKE 'system:node:%'
--   AND user_name NOT LIKE 'system:kube-%'
--   AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
-- dedup: cluster, user_name, source_ip
-- suppress: 1h
-- output: {user_name} from {source_ip} ({user_agent}) was refused {forbidden_actions} different actions in 10 minutes ({forbidden} refused, {allowed} allowed), e.g. {sample_refused}
-- description: One identity, from one address and client, tried at least six different
--   actions (verb, resource, namespace) that RBAC refused, while other requests of the same
--   identity succeeded. Trying one thing after another to see what a credential may do is
--   how a stolen token or a freshly compromised pod is explored. A new operator that lacks
--   RBAC looks the same: add such service accounts to known_controllers once verified.

-- Kubelets, control-plane components and kube-system service accounts are left out in the
-- filter; they are governed by the Node authorizer and bootstrap RBAC.
WITH actions AS (
    SELECT cluster,
           audit_id,
           stage_at,
           user_name,
           source_ip,
           user_agent,
           authz_decision,
           -- one action: verb, resource[/subresource] (or the path of a non-resource URL)
           -- and namespace
           verb || ' ' || COALESCE(object_resource || COALESCE('/' || object_subresource, ''),
                                   split_part(request_uri, '?', 1))
                || COALESCE(' in ' || object_namespace, '') AS action
    FROM events
    WHERE NOT in_list(user_name, 'known_controllers')
)
SELECT cluster,
       array_agg(audit_id) FILTER (WHERE authz_decision = 'forbid') AS audit_ids,
       max(stage_at) AS time,
       user_name,
       source_ip,
       COALESCE(user_agent, '') AS user_agent,
       count(DISTINCT action) FILTER (WHERE authz_decision = 'forbid') AS forbidden_actions,
       count(*) FILTER (WHERE authz_decision = 'forbid') AS forbidden,
       count(*) FILTER (WHERE authz_decision = 'allow') AS allowed,
       array_to_string(array_slice(array_sort(array_agg(DISTINCT action) FILTER (WHERE authz_decision = 'forbid')), 1, 6), ', ') AS sample_refused
FROM actions
GROUP BY cluster, user_name, source_ip, COALESCE(user_agent, '')
HAVING count(DISTINCT action) FILTER (WHERE authz_decision = 'forbid') >= 6
   AND count(*) FILTER (WHERE authz_decision = 'allow') >= 1
