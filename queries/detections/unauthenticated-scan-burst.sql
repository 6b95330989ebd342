-- id: unauthenticated-scan-burst
-- title: Unauthenticated scan of the API server
-- severity: Notice
-- mitre: T1595, T1613
-- tags: reconnaissance, discovery, anonymous
-- behaviours: 3
-- level: Metadata
-- mode: window
-- window: 10m
-- every: 1m
-- filter: COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND response_code IN (401, 403)
--   AND (user_name IS NULL OR user_name IN ('', 'system:anonymous')
--        OR array_has(user_groups, 'system:unauthenticated'))
-- dedup: cluster, source_ip
-- suppress: 1h
-- output: {source_ip} probed {paths} distinct paths without valid credentials in 10 minutes ({requests} requests refused, user agents {user_agents}), e.g. {sample_paths}
-- description: One address sent requests without credentials (anonymous) or with credentials
--   the API server rejected (401), to at least five different paths within ten minutes, and was
--   refused. That is a scanner or an attacker mapping the API (pods, secrets, nodes, the
--   kubelet-style endpoints). Block the address if the API server should not be reachable
--   from it, and check that nothing from it was allowed (anonymous-request-allowed).

-- A failed authentication (401) is logged with an empty user; a refused anonymous request
-- (403) with system:anonymous. Each request has one ResponseComplete event, so rows count
-- requests. A client retrying one URL is not a scan: distinct paths are what count.
SELECT cluster,
       array_agg(audit_id) AS audit_ids,
       max(stage_at) AS time,
       source_ip,
       count(*) AS requests,
       count(DISTINCT split_part(COALESCE(request_uri, ''), '?', 1)) AS paths,
       array_to_string(array_sort(array_agg(DISTINCT user_agent)), ', ') AS user_agents,
       array_to_string(array_slice(array_sort(array_agg(DISTINCT split_part(COALESCE(request_uri, ''), '?', 1))), 1, 5), ' ') AS sample_paths
FROM events
GROUP BY cluster, source_ip
HAVING count(DISTINCT split_part(COALESCE(request_uri, ''), '?', 1)) >= 5
