-- id: anonymous-api-request
-- title: Anonymous API request from the network
-- severity: Informational
-- mitre: T1595, T1190
-- tags: reconnaissance, anonymous, authentication
-- behaviours: 1
-- equivalents: Amazon.EKS.AnonymousAPIAccess
-- level: Metadata
-- mode: event
-- dedup: cluster, source_ip, user_agent
-- suppress: 1h
-- output: Anonymous {verb} {request_uri} from {source_ip} ({user_agent}) answered {response_code} ({authz_decision})
-- description: A client without credentials reached the API server, whatever the answer. On
--   an API endpoint reachable from the internet these are mostly scanners fingerprinting the
--   cluster; from inside the network they show a workload or host talking to the API without
--   a token. Use it as context for other alerts from the same address; the allowed ones also
--   raise anonymous-request-allowed.

-- Health probes are routine: kubelet and cloud load-balancer checks from private addresses,
-- and kube-probe / Google health checkers from anywhere. A probe of /healthz from a public
-- address is still reported, since that is how scanners find API servers.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       request_uri,
       response_code,
       authz_decision,
       authz_reason
FROM events
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND (user_name = 'system:anonymous'
       OR array_has(user_groups, 'system:unauthenticated'))
  AND COALESCE(source_ip, '') NOT IN ('127.0.0.1', '::1')
  AND COALESCE(user_agent, '') NOT LIKE 'kube-probe/%'
  AND COALESCE(user_agent, '') NOT LIKE 'GoogleHC/%'
  AND NOT (COALESCE(is_public_ip(source_ip), false) = false
           AND split_part(COALESCE(request_uri, ''), '?', 1) IN ('/healthz', '/livez', '/readyz'))
