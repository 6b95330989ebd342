-- id: secret-enumeration-burst
-- title: Many distinct secrets read by one identity
-- severity: Warning
-- mitre: T1552.007, T1613
-- tags: credential-access, secrets, enumeration
-- behaviours: 82
-- level: Metadata
-- mode: window
-- window: 30m
-- every: 1m
-- filter: object_resource = 'secrets' AND verb = 'get' AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
-- dedup: cluster, user_name
-- suppress: 30m
-- output: {user_name} read {secrets} distinct secrets in 30 minutes ({readable} readable, {failed} failed) across {namespaces} with {user_agents} from {source_ips}
-- description: One identity asked for at least 10 different secrets by name within 30 minutes.
--   People and workloads use a handful of known secrets; walking through many of them, in one
--   namespace or across several, is how a stolen credential is turned into every credential it
--   can reach. Failed attempts count too: guessing names is part of the same activity.
--   Control-plane, node and kube-system identities and known controllers are not counted.

SELECT cluster,
       user_name,
       array_agg(DISTINCT audit_id) AS audit_ids,
       max(stage_at) AS time,
       count(DISTINCT object_namespace || '/' || object_name) AS secrets,
       count(DISTINCT object_namespace || '/' || object_name)
         FILTER (WHERE response_code BETWEEN 200 AND 299) AS readable,
       count(DISTINCT object_namespace || '/' || object_name)
         FILTER (WHERE response_code >= 400) AS failed,
       array_to_string(array_agg(DISTINCT object_namespace), ', ') AS namespaces,
       array_to_string(array_agg(DISTINCT user_agent), ', ') AS user_agents,
       array_to_string(array_agg(DISTINCT source_ip), ', ') AS source_ips,
       min(stage_at) AS first_seen
FROM events
WHERE NOT (    (COALESCE(user_name, '') LIKE 'system:%'
                AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:%'
                AND COALESCE(user_name, '') <> 'system:anonymous')
            OR COALESCE(user_name, '') LIKE 'system:serviceaccount:kube-system:%'
            OR COALESCE(user_name, '') LIKE 'eks:%'
            OR COALESCE(user_name, '') = 'aksService')
  AND NOT in_list(COALESCE(user_name, ''), 'known_controllers')
GROUP BY cluster, user_name
HAVING count(DISTINCT object_namespace || '/' || object_name) >= 10
