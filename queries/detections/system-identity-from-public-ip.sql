-- id: system-identity-from-public-ip
-- title: System identity used from a public address
-- severity: Warning
-- mitre: T1078.004, T1528
-- tags: credential-access, initial-access, network, service-account
-- behaviours: 14
-- equivalents: Kubernetes.System.Principal.PublicIP | Amazon.EKS.Audit.SystemNamespaceFromPublicIP
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, source_ip
-- suppress: 1h
-- output: {user_name} {verb} {target} from public address {source_ip} with {user_agent} (answered {response_code})
-- description: A service account, node or control-plane identity (system:*, or a cloud's eks:
--   / aks: principals) made a request that was not refused from a public internet address
--   outside trusted_cidrs. These identities live inside the cluster network; their
--   credentials used from the internet were most likely stolen from a pod, a node or a
--   kubeconfig. If the address belongs to your cloud's NAT or node ranges, add it to
--   trusted_cidrs.

-- system:anonymous and system:unauthenticated are not identities (anonymous rules cover
-- them); 401/403 answers belong to the refusal rules. Both the client address
-- (sourceIPs[0]) and the connecting address (last entry) must be public: a private entry
-- means the request came through the cluster's own network.
SELECT e.cluster,
       e.audit_id,
       e.stage_at AS time,
       e.user_name,
       e.user_groups,
       e.source_ips,
       e.source_ip,
       e.user_agent,
       e.verb,
       e.request_uri,
       CASE WHEN e.object_resource IS NULL THEN split_part(e.request_uri, '?', 1)
            ELSE concat_ws(' ', e.object_resource || COALESCE('/' || e.object_subresource, ''),
                           NULLIF(concat_ws('/', e.object_namespace, e.object_name), ''))
       END AS target,
       e.object_resource,
       e.object_namespace,
       e.object_name,
       e.response_code
FROM events e
LEFT JOIN trusted_cidrs t
  ON cidr_match(e.source_ip, t.value)
WHERE COALESCE(e.stage, 'ResponseComplete') = 'ResponseComplete'
  AND (e.user_name LIKE 'system:%'
       OR e.user_name LIKE 'eks:%'
       OR e.user_name LIKE 'aks:%')
  AND e.user_name NOT IN ('system:anonymous', 'system:unauthenticated')
  AND COALESCE(e.response_code, 0) NOT IN (401, 403)
  AND is_public_ip(e.source_ip)
  AND is_public_ip(array_element(e.source_ips, -1))
  AND e.user_name NOT IN (SELECT value FROM cloud_managed_identities)
  AND t.value IS NULL
