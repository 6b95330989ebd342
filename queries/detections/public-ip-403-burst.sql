-- id: public-ip-403-burst
-- title: Many forbidden requests from one public address
-- severity: Notice
-- mitre: T1110, T1613, T1595
-- tags: discovery, credential-access, authorization
-- behaviours: 5
-- equivalents: Amazon.EKS.Audit.Multiple403 x10 | Kubernetes.API.Multiple403.PublicIP x10
-- level: Metadata
-- mode: window
-- window: 30m
-- every: 1m
-- filter: COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND response_code = 403
--   AND is_public_ip(source_ip)
-- dedup: cluster, source_ip
-- suppress: 30m
-- output: {source_ip} got {requests} forbidden (403) answers in 30 minutes as {users} ({user_agents}), e.g. {sample_requests}
-- description: One public address received at least ten 403 Forbidden answers within thirty
--   minutes. Either a client with valid credentials is trying things it is not allowed to (a
--   stolen token being explored from outside), or an internet scanner is walking the API
--   anonymously. Check the identities listed: an authenticated identity here is the more
--   serious case, especially a service account, which should not call from the internet.

-- sourceIPs[0] is the client as seen by kube-apiserver (or as claimed in X-Forwarded-For).
-- Each request has one ResponseComplete event, so rows count requests.
SELECT cluster,
       array_agg(audit_id) AS audit_ids,
       max(stage_at) AS time,
       source_ip,
       count(*) AS requests,
       array_to_string(array_sort(array_agg(DISTINCT COALESCE(user_name, '(credentials rejected)'))), ', ') AS users,
       array_to_string(array_sort(array_agg(DISTINCT user_agent)), ', ') AS user_agents,
       array_to_string(array_slice(array_sort(array_agg(DISTINCT verb || ' ' || split_part(COALESCE(request_uri, ''), '?', 1))), 1, 5), ', ') AS sample_requests
FROM events
GROUP BY cluster, source_ip
HAVING count(*) >= 10
