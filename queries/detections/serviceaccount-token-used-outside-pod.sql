-- id: serviceaccount-token-used-outside-pod
-- title: Pod's service-account token used from another address
-- severity: Warning
-- mitre: T1528, T1550.001
-- tags: credential-access, lateral-movement, service-account, token
-- behaviours: 19
-- level: Request
-- mode: sequence
-- window: 7d
-- filter: COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND (
--     (object_resource = 'pods' AND object_subresource = 'status'
--      AND verb IN ('patch', 'update') AND user_name LIKE 'system:node:%'
--      AND (request_object LIKE '%podIP%' OR response_object LIKE '%podIP%'))
--     OR (user_name LIKE 'system:serviceaccount:%'
--         AND user_extra['authentication.kubernetes.io/pod-name'] IS NOT NULL)
--   )
-- dedup: cluster, user_name, pod, source_ip
-- suppress: 1h
-- output: Token of {user_name} bound to pod {namespace}/{pod} used from {source_ip}, which is neither the pod's nor its node's address ({known_addresses}): {verb} {request_uri} with {user_agent}
-- description: A bound service-account token names the pod it was issued to. This request
--   used such a token from an address that is neither that pod's IP nor the IP of the node
--   it runs on, as the kubelet reported them. The token has been copied out of the pod
--   (through exec, a file-read bug, a log) and is being replayed elsewhere. Revoke it by
--   deleting the pod and check what the token was used for.

-- Pod and node addresses come from the kubelet's status updates (pods/status, logged with
-- the request body at level Request or higher). A pod whose status update is not in the
-- window (older than 7 days, or not logged) is not judged. Both the client address
-- (sourceIPs[0]) and the connecting address (last entry) are compared; trusted_cidrs are
-- accepted (NAT gateways in front of a public API endpoint).
WITH addresses AS (
    SELECT cluster,
           object_namespace AS namespace,
           object_name AS pod,
           unnest(array_concat(
               json_values(request_object, '$.status.podIPs[*].ip'),
               json_values(request_object, '$.status.podIP'),
               json_values(request_object, '$.status.hostIPs[*].ip'),
               json_values(request_object, '$.status.hostIP'),
               json_values(response_object, '$.status.podIPs[*].ip'),
               json_values(response_object, '$.status.hostIPs[*].ip'))) AS ip
    FROM events
    WHERE object_subresource = 'status'
),
uses AS (
    SELECT cluster,
           audit_id,
           stage_at,
           user_name,
           -- a pod can only use service accounts of its own namespace
           split_part(user_name, ':', 3) AS namespace,
           user_extra['authentication.kubernetes.io/pod-name'][1] AS pod,
           source_ip,
           array_element(source_ips, -1) AS peer_ip,
           user_agent,
           verb,
           request_uri
    FROM new_events
    WHERE user_name LIKE 'system:serviceaccount:%'
)
SELECT u.cluster,
       u.audit_id,
       u.stage_at AS time,
       u.user_name,
       u.namespace,
       u.pod,
       u.source_ip,
       u.user_agent,
       u.verb,
       u.request_uri,
       (SELECT array_to_string(array_sort(array_agg(DISTINCT a.ip)), ', ') FROM addresses a
        WHERE a.cluster = u.cluster AND a.namespace = u.namespace AND a.pod = u.pod) AS known_addresses
FROM uses u
WHERE EXISTS (SELECT 1 FROM addresses a
              WHERE a.cluster = u.cluster AND a.namespace = u.namespace AND a.pod = u.pod)
  AND NOT EXISTS (SELECT 1 FROM addresses a
                  WHERE a.cluster = u.cluster AND a.namespace = u.namespace AND a.pod = u.pod
                    AND (a.ip = u.source_ip OR a.ip = u.peer_ip))
  AND NOT EXISTS (SELECT 1 FROM trusted_cidrs t
                  WHERE cidr_match(u.source_ip, t.value))
