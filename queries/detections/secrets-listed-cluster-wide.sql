-- id: secrets-listed-cluster-wide
-- title: Secrets listed across the cluster or in a system namespace
-- severity: Warning
-- mitre: T1552.007, T1613
-- tags: credential-access, secrets, collection
-- behaviours: 81
-- equivalents: Kubernetes.Secrets.DumpAllNamespaces
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, scope
-- suppress: 30m
-- output: {user_name} ran {verb} on secrets in {scope} ({request_uri}) from {source_ip} with {user_agent}
-- description: An identity listed or watched secrets in all namespaces at once
--   (GET /api/v1/secrets) or in a system namespace such as kube-system. A list returns every
--   secret's contents, so one request collects every credential in scope: service-account
--   tokens, registry credentials, TLS keys, cloud keys. Control-plane and kube-system
--   identities and known controllers (kube-state-metrics, cert-manager, secret operators) are
--   not reported.

-- A list completes at ResponseComplete; a watch streams from ResponseStarted on and completes
-- only when it closes, so it is taken at ResponseStarted. A missing stage (events from other
-- tools) counts.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       user_groups,
       source_ip,
       user_agent,
       verb,
       request_uri,
       COALESCE(NULLIF(object_namespace, ''), 'all namespaces') AS scope
FROM events
WHERE object_resource = 'secrets'
  AND object_subresource IS NULL
  AND verb IN ('list', 'watch')
  AND COALESCE(stage, CASE verb WHEN 'watch' THEN 'ResponseStarted' ELSE 'ResponseComplete' END)
      = CASE verb WHEN 'watch' THEN 'ResponseStarted' ELSE 'ResponseComplete' END
  AND response_code BETWEEN 200 AND 299
  AND (COALESCE(object_namespace, '') = ''
       OR in_list(object_namespace, 'system_namespaces'))
  -- control-plane and node identities, kube-system service accounts, managed-cloud agents
  AND NOT (    (COALESCE(user_name, '') LIKE 'system:%'
                AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:%'
                AND COALESCE(user_name, '') <> 'system:anonymous')
            OR COALESCE(user_name, '') LIKE 'system:serviceaccount:kube-system:%'
            OR COALESCE(user_name, '') LIKE 'eks:%'
            OR COALESCE(user_name, '') = 'aksService')
  AND NOT in_list(COALESCE(user_name, ''), 'known_controllers')
