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

-- The address logic is public_address_requests'. system:anonymous and system:unauthenticated
-- are not identities (the anonymous rules cover them); 401/403 answers belong to the refusal
-- rules. Workload service accounts are left to serviceaccount-from-public-ip (CI runners call
-- from outside).
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ips,
       array_to_string(source_ips, ', ') AS source_ips_text,
       source_ip,
       public_ip,
       user_agent,
       verb,
       request_uri,
       target,
       response_code
FROM public_address_requests
WHERE (user_name LIKE 'system:%'
       AND user_name NOT LIKE 'system:serviceaccount:%'
       AND user_name NOT IN ('system:anonymous', 'system:unauthenticated'))
   OR user_name LIKE 'system:serviceaccount:kube-system:%'
   OR user_name LIKE 'eks:%'
   OR user_name LIKE 'aks:%'
