-- id: bound-token-used-from-multiple-ips
-- title: One service-account token used from more than one source address
-- severity: Warning
-- mitre: T1528, T1550.001
-- tags: credential-access, lateral-movement, window
-- behaviours: 97
-- level: Metadata
-- mode: window
-- window: 1h
-- every: 1m
-- filter: user_name LIKE 'system:serviceaccount:%'
--   AND user_extra['authentication.kubernetes.io/credential-id'][1] IS NOT NULL
--   AND source_ip IS NOT NULL
-- compact: cluster, user_extra['authentication.kubernetes.io/credential-id'][1], source_ip, user_agent
-- dedup: cluster, credential_id
-- suppress: 1h
-- output: token {credential_id} of {user_name} (pod {pod_name} on {node_name}) used from {ip_count} addresses within 1h: {source_ips_seen}; user agents {user_agents}
-- description: The same service-account token, identified by the credential ID (token JTI) that
--   the API server records since Kubernetes 1.29/1.30, made requests from two or more source
--   addresses within an hour. A pod's token is only ever used from that pod's address, so a
--   second address means the token was copied out of the pod (or out of a TokenRequest
--   response) and replayed elsewhere, e.g. from an attacker's machine. Each token has its own
--   ID, so token rotation does not trigger this. The alert lists the addresses, the user agents,
--   and the pod and node the token was bound to; the audit IDs are the first request from each
--   address.
WITH uses AS (
  SELECT cluster,
         audit_id,
         COALESCE(stage_at, request_received_at) AS t,
         user_name,
         source_ip,
         user_agent,
         user_extra['authentication.kubernetes.io/credential-id'][1] AS credential_id,
         user_extra['authentication.kubernetes.io/pod-name'][1] AS pod_name,
         user_extra['authentication.kubernetes.io/node-name'][1] AS node_name
  FROM events
),
-- the first request of each token from each address
firsts AS (
  SELECT *,
         row_number() OVER (PARTITION BY cluster, credential_id, source_ip ORDER BY t, audit_id) AS rn
  FROM uses
),
agents AS (
  SELECT cluster, credential_id, array_to_string(array_agg(DISTINCT user_agent), ' | ') AS user_agents
  FROM uses
  GROUP BY cluster, credential_id
),
per_token AS (
  SELECT cluster,
         credential_id,
         array_agg(audit_id ORDER BY t) AS audit_ids,
         max(t) AS time,
         min(user_name) AS user_name,
         COALESCE(min(pod_name), 'no pod') AS pod_name,
         COALESCE(min(node_name), 'no node') AS node_name,
         count(*) AS ip_count,
         array_to_string(array_agg(source_ip ORDER BY t), ', ') AS source_ips_seen
  FROM firsts
  WHERE rn = 1
  GROUP BY cluster, credential_id
  HAVING count(*) >= 2
)
SELECT p.cluster,
       p.audit_ids,
       p.time,
       p.credential_id,
       p.user_name,
       p.pod_name,
       p.node_name,
       p.ip_count,
       p.source_ips_seen,
       a.user_agents
FROM per_token p
JOIN agents a
  ON a.cluster = p.cluster
 AND a.credential_id = p.credential_id
