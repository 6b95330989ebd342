-- id: secret-modified
-- title: Secret created, changed or deleted
-- severity: Informational
-- mitre: T1098, T1485
-- tags: persistence, impact, secrets, change-tracking
-- behaviours: 86
-- equivalents: K8s Secret Created | K8s Secret Deleted
-- level: Metadata
-- mode: event
-- output: {user_name} ran {verb} on secret {object_namespace}/{object_name} ({response_code}) from {source_ip} with {user_agent}
-- description: A user or workload created, replaced, patched or deleted a secret. Secrets carry
--   the credentials workloads run with: replacing one can redirect an application to an
--   attacker's database or registry, adding one can plant a long-lived token, deleting one can
--   break a service. This is a change trail for review, not an alarm. Changes by control-plane
--   identities (token and certificate controllers), in kube-system, and by known controllers
--   are left out.

SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       object_namespace,
       object_name,
       response_code
FROM events
WHERE object_resource = 'secrets'
  AND object_subresource IS NULL
  AND verb IN ('create', 'update', 'patch', 'delete', 'deletecollection')
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  AND COALESCE(object_namespace, '') <> 'kube-system'
  -- control-plane and node identities (the service-account token controller among them)
  AND NOT (COALESCE(user_name, '') LIKE 'system:%'
           AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:%')
  AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:kube-system:%'
  AND COALESCE(user_name, '') NOT LIKE 'eks:%'
  AND COALESCE(user_name, '') <> 'aksService'
  AND NOT in_list(COALESCE(user_name, ''), 'known_controllers')
