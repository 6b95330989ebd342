-- id: malicious-ip-request
-- title: API request from a known-malicious address
-- severity: Warning
-- mitre: T1078, T1090.003
-- tags: initial-access, threat-intel, network
-- behaviours: 13
-- equivalents: Kubernetes.API.IOC.Activity
-- level: Metadata
-- mode: event
-- dedup: cluster, source_ip, user_name
-- suppress: 1h
-- output: {caller} sent {verb} {request_uri} from {source_ip}, listed in malicious_ips ({listed}); answered {response_code}
-- description: A request reached the API server from an address on the threat-intelligence
--   list malicious_ips (Tor exit nodes, attacker infrastructure, anonymising proxies). Nobody
--   administers a cluster through Tor; an allowed request from there means a credential is
--   in the wrong hands: revoke it and review what it did. Refused ones show the cluster is
--   being targeted.

-- Matches the client address (sourceIPs[0], which X-Forwarded-For can set) and the address
-- the connection came from (the last entry), against single addresses or CIDR ranges.
SELECT e.cluster,
       e.audit_id,
       e.stage_at AS time,
       COALESCE(NULLIF(e.user_name, ''), '(credentials rejected)') AS caller,
       e.user_name,
       e.source_ips,
       e.source_ip,
       e.user_agent,
       e.verb,
       e.request_uri,
       e.object_resource,
       e.object_namespace,
       e.object_name,
       e.response_code,
       e.authz_decision,
       array_to_string(array_agg(m.value), ', ') AS listed
FROM events e
JOIN malicious_ips m
  ON cidr_match(e.source_ip, m.value)
  OR cidr_match(array_element(e.source_ips, -1), m.value)
WHERE COALESCE(e.stage, 'ResponseComplete') = 'ResponseComplete'
GROUP BY e.cluster, e.audit_id, e.stage_at, e.user_name, e.source_ips, e.source_ip, e.user_agent, e.verb,
         e.request_uri, e.object_resource, e.object_namespace, e.object_name, e.response_code, e.authz_decision
