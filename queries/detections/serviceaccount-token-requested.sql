-- id: serviceaccount-token-requested
-- title: Service-account token minted through the TokenRequest API
-- severity: Notice
-- mitre: T1528, T1098.001
-- tags: identity, credential-access, persistence
-- behaviours: 67
-- equivalents: Kubernetes.ServiceAccount.TokenCreated
-- level: Metadata
-- mode: event
-- output: {user_name} minted a token for service account {object_namespace}/{object_name}{lifetime} from {source_ip}
-- description: Someone requested a token for a service account (serviceaccounts/token, as
--   'kubectl create token' does). The token acts as that service account for as long as it is
--   valid (the requested lifetime is shown when the audit policy logs request bodies), so it is a
--   way to borrow a more privileged identity or keep access. Kubelets fetching the tokens of their
--   own pods are not reported, nor are control-plane components working in system namespaces.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_subresource, object_namespace, object_name,
       json_value(request_object, '$.spec.expirationSeconds') AS expiration_seconds,
       -- the requested lifetime is only known when the request body is logged
       COALESCE(' valid for ' || json_value(request_object, '$.spec.expirationSeconds') || 's', '') AS lifetime
FROM events
WHERE object_resource = 'serviceaccounts'
  AND object_subresource = 'token'
  AND verb = 'create'
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- kubelets request the projected tokens of the pods they run
  AND COALESCE(user_name, '') NOT LIKE 'system:node:%'
  AND NOT in_list(COALESCE(user_name, ''), 'known_controllers')
  -- control-plane identities are expected in system namespaces, not in application ones
  AND NOT (in_list(COALESCE(object_namespace, ''), 'system_namespaces')
           AND (COALESCE(user_name, '') LIKE 'system:serviceaccount:kube-system:%'
                OR COALESCE(user_name, '') LIKE 'eks:%'
                OR COALESCE(user_name, '') IN ('system:apiserver', 'system:kube-controller-manager',
                                               'system:kube-scheduler', 'system:kube-proxy',
                                               'system:addon-manager')))
