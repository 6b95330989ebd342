-- id: serviceaccount-from-public-ip
-- title: Workload service account used from a public address
-- severity: Notice
-- mitre: T1078.004, T1528
-- tags: credential-access, initial-access, network, service-account
-- behaviours: 14
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, public_ip
-- suppress: 1h
-- output: {user_name} {verb} {target} from public address {public_ip} (source IPs {source_ips_text}) with {user_agent}, answered {response_code}
-- description: A service account of an application namespace made a request that was not
--   refused from a public internet address outside trusted_cidrs. Service-account tokens are
--   meant for pods inside the cluster; one used from the internet has either been copied out
--   of its pod or handed to an outside system such as a hosted CI runner. The second is a
--   design choice worth knowing about: list those accounts in public_address_identities so
--   that only unexpected use is reported.

-- The address logic is public_address_requests'. kube-system service accounts are reported by
-- system-identity-from-public-ip at a higher severity.
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
WHERE user_name LIKE 'system:serviceaccount:%'
  AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
