-- One row per request that was not refused (any answer but 401 and 403) and came from a public
-- internet address outside `trusted_cidrs`, made by an identity not listed in
-- `public_address_identities` (the accounts expected to call from outside: hosted CI runners,
-- cloud principals running outside the network).
--
-- Either address counts: the client address (sourceIPs[0]), which the client can set with
-- X-Forwarded-For, and the address the connection came from (the last entry).
--   peer_ip    the connecting address (the last entry of source_ips)
--   public_ip  the public, untrusted one of the two (the client address when both are)
--   target     what the request was about: `resource[/subresource] [namespace/]name`, or the
--              URI path of a request that is not about a resource
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
      AND NOT in_list(user_name, 'public_address_identities')
      -- only a public address can be reported: the ranges are checked for those alone
      AND (is_public_ip(source_ip) OR is_public_ip(array_element(source_ips, -1)))
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
SELECT cluster, audit_id, stage_at, user_name, source_ips, source_ip, peer_ip,
       CASE WHEN client_public THEN source_ip ELSE peer_ip END AS public_ip,
       user_agent, verb, request_uri, target, response_code
FROM flagged
WHERE client_public OR peer_public
