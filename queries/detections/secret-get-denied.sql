-- id: secret-get-denied
-- title: Secret read denied
-- severity: Notice
-- mitre: T1552.007
-- tags: credential-access, secrets, forbidden
-- behaviours: 80
-- equivalents: K8s Secret Get Unsuccessfully Tried
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name
-- suppress: 30m
-- output: {user_name} was denied ({response_code}) reading secret {object_namespace}/{object_name} from {source_ip} with {user_agent}
-- description: An identity tried to read a secret it is not allowed to read (401 or 403). One
--   denial is often a misconfigured client; it is also the first sign of someone testing a
--   stolen credential against the secrets they hope it reaches. Repeated denials from one
--   identity have their own, more severe rule. Platform identities are not reported.

SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       object_namespace,
       object_name,
       response_code,
       authz_reason
FROM events
WHERE object_resource = 'secrets'
  AND verb = 'get'
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND (response_code IN (401, 403) OR authz_decision = 'forbid')
  -- control-plane and node identities, kube-system service accounts, managed-cloud agents
  AND NOT (    (COALESCE(user_name, '') LIKE 'system:%'
                AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:%'
                AND COALESCE(user_name, '') <> 'system:anonymous')
            OR COALESCE(user_name, '') LIKE 'system:serviceaccount:kube-system:%'
            OR COALESCE(user_name, '') LIKE 'eks:%'
            OR COALESCE(user_name, '') = 'aksService')
  AND NOT in_list(COALESCE(user_name, ''), 'known_controllers')
