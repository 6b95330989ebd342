-- id: secret-get-denied-burst
-- title: Repeated failed secret reads by one identity
-- severity: Warning
-- mitre: T1552.007, T1110
-- tags: credential-access, secrets, forbidden, enumeration
-- behaviours: 80
-- equivalents: Kubernetes.Secret.AccessDenied x20
-- level: Metadata
-- mode: window
-- window: 15m
-- every: 1m
-- filter: object_resource = 'secrets' AND verb = 'get' AND response_code >= 400 AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
-- dedup: cluster, user_name
-- suppress: 15m
-- output: {user_name} failed {failures} secret reads in 15 minutes ({denied} denied, {not_found} not found) across {secrets} secrets in {namespaces} from {source_ips}
-- description: One identity failed to read secrets at least 20 times within 15 minutes, denied
--   (401/403) or asking for names that do not exist (404). This is what guessing secret names
--   or testing a stolen credential against many namespaces looks like; an application stuck on
--   a missing secret looks the same, so check the names tried and the client. Control-plane,
--   node and kube-system identities and known controllers are not counted.

SELECT cluster,
       user_name,
       array_agg(DISTINCT audit_id) AS audit_ids,
       max(stage_at) AS time,
       -- requests, not events: a batch delivered twice repeats its events
       count(DISTINCT audit_id) AS failures,
       count(DISTINCT audit_id) FILTER (WHERE response_code IN (401, 403)) AS denied,
       count(DISTINCT audit_id) FILTER (WHERE response_code = 404) AS not_found,
       count(DISTINCT object_namespace || '/' || object_name) AS secrets,
       array_to_string(array_agg(DISTINCT object_namespace), ', ') AS namespaces,
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
HAVING count(DISTINCT audit_id) >= 20
