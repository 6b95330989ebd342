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

-- Same address logic as system-identity-from-public-ip: the client address (sourceIPs[0],
-- which X-Forwarded-For sets) or the connecting address (last entry) is public and
-- untrusted. kube-system service accounts are reported by that rule at a higher severity.
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
      AND user_name LIKE 'system:serviceaccount:%'
      AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
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
