-- id: system-identity-from-public-ip
-- title: Node, control-plane or kube-system identity used from a public address
-- severity: Warning
-- mitre: T1078.004, T1528
-- tags: credential-access, initial-access, network, service-account
-- behaviours: 14
-- equivalents: Kubernetes.System.Principal.PublicIP | Amazon.EKS.Audit.SystemNamespaceFromPublicIP
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, public_ip
-- suppress: 1h
-- output: {user_name} {verb} {target} from public address {public_ip} (source IPs {source_ips_text}) with {user_agent}, answered {response_code}
-- description: A node (system:node:*), a control-plane component (system:kube-*...), a
--   kube-system service account or a cloud-managed principal (eks:*, aks:*) made a request
--   that was not refused, and the request came from a public internet address outside
--   trusted_cidrs. These identities live inside the cluster and its cloud network; their
--   credentials used from the internet were most likely stolen from a node, a system pod or
--   a kubeconfig. If the address belongs to your provider's node or NAT ranges, add it to
--   trusted_cidrs; cloud principals that run outside the network belong in
--   public_address_identities.

-- The client address (sourceIPs[0]) can be set by the client with X-Forwarded-For, the
-- last entry is the address the connection came from; either one being a public, untrusted
-- address is reported. system:anonymous and system:unauthenticated are not identities (the
-- anonymous rules cover them); 401/403 answers belong to the refusal rules. Workload
-- service accounts are left to serviceaccount-from-public-ip (CI runners call from outside).
WITH calls AS (
    SELECT cluster,
           audit_id,
           stage_at,
           user_name,
           source_ips,
           source_ip,
           array_element(source_ips, -1) AS peer_ip,
           user_agent,
           verb,
           request_uri,
           CASE WHEN object_resource IS NULL THEN split_part(request_uri, '?', 1)
                ELSE concat_ws(' ', object_resource || COALESCE('/' || object_subresource, ''),
                               NULLIF(concat_ws('/', object_namespace, object_name), ''))
           END AS target,
           response_code
    FROM events
    WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
      AND COALESCE(response_code, 0) NOT IN (401, 403)
      AND (
            (user_name LIKE 'system:%'
             AND user_name NOT LIKE 'system:serviceaccount:%'
             AND user_name NOT IN ('system:anonymous', 'system:unauthenticated'))
         OR user_name LIKE 'system:serviceaccount:kube-system:%'
         OR user_name LIKE 'eks:%'
         OR user_name LIKE 'aks:%'
          )
      AND user_name NOT IN (SELECT value FROM public_address_identities)
),
flagged AS (
    -- a trusted range matching an address leaves a row of tc / tp non-NULL
    SELECT DISTINCT
           c.*,
           is_public_ip(c.source_ip) AND tc.value IS NULL AS client_public,
           is_public_ip(c.peer_ip) AND tp.value IS NULL AS peer_public
    FROM calls c
    LEFT JOIN trusted_cidrs tc ON cidr_match(c.source_ip, tc.value)
    LEFT JOIN trusted_cidrs tp ON cidr_match(c.peer_ip, tp.value)
)
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ips,
       array_to_string(source_ips, ', ') AS source_ips_text,
       source_ip,
       CASE WHEN client_public THEN source_ip ELSE peer_ip END AS public_ip,
       user_agent,
       verb,
       request_uri,
       target,
       response_code
FROM flagged
WHERE client_public OR peer_public
