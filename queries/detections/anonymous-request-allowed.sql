-- id: anonymous-request-allowed
-- title: Anonymous request allowed
-- severity: Warning
-- mitre: T1078.001, T1190
-- tags: initial-access, anonymous, authentication
-- behaviours: 1
-- equivalents: Anonymous Request Allowed | Kubernetes.API.AnonymousAccess
-- level: Metadata
-- mode: event
-- dedup: cluster, source_ip, verb, request_path
-- suppress: 1h
-- output: Anonymous {verb} {request_uri} allowed from {source_ip} ({user_agent}): {authz_reason}
-- description: The API server authorized a request that carried no credentials (user
--   system:anonymous or group system:unauthenticated) for something other than a health or
--   version endpoint. RBAC bindings that grant rights to anonymous users expose the cluster
--   to anyone who can reach the API server; attackers scan for them. Check the binding named
--   in the reason and remove it unless it is deliberate.

-- kube-apiserver grants anonymous users /healthz, /livez, /readyz (and their sub-checks)
-- and /version through the default system:public-info-viewer binding; those are routine, as
-- are the service-account issuer's OIDC discovery documents that managed clusters publish
-- (system:service-account-issuer-discovery bound to system:unauthenticated).
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       user_groups,
       source_ip,
       user_agent,
       verb,
       request_uri,
       split_part(request_uri, '?', 1) AS request_path,
       object_resource,
       object_namespace,
       object_name,
       response_code,
       authz_decision,
       authz_reason
FROM events
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND (user_name = 'system:anonymous'
       OR array_has(user_groups, 'system:unauthenticated'))
  AND (authz_decision = 'allow'
       OR (authz_decision IS NULL AND response_code BETWEEN 200 AND 299))
  AND split_part(COALESCE(request_uri, ''), '?', 1) NOT IN ('/healthz', '/livez', '/readyz', '/version', '/version/',
                                                            '/.well-known/openid-configuration', '/openid/v1/jwks')
  AND COALESCE(request_uri, '') NOT LIKE '/healthz/%'
  AND COALESCE(request_uri, '') NOT LIKE '/livez/%'
  AND COALESCE(request_uri, '') NOT LIKE '/readyz/%'
