-- id: ingress-without-tls
-- title: Ingress created without TLS
-- severity: Warning
-- mitre: T1040, T1557
-- tags: network, exposure, ingress, tls
-- behaviours: 77
-- equivalents: Ingress Object without TLS Certificate Created | Kubernetes.Ingress.NoTLS
-- level: Request
-- mode: event
-- dedup: cluster, object_namespace, object_name
-- suppress: 1d
-- output: {user_name} created ingress {object_namespace}/{object_name} without TLS for hosts {hosts} (class {ingress_class}) from {source_ip}
-- description: An Ingress was created without a `tls` section, so the ingress controller
--   serves it over plain HTTP. Whatever goes through it (session cookies, tokens,
--   credentials) can be read and changed by anyone on the path. Unless TLS is terminated in
--   front of the controller, add a tls section with a certificate.

-- Ingresses the cluster makes for itself (system namespaces, control-plane and kube-system
-- identities) are left out. GitOps and CI deployers are not: creating an ingress is rare,
-- and a plaintext one is a finding whoever creates it. Only creation is reported.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       object_namespace,
       object_name,
       COALESCE(NULLIF(array_to_string(json_values(request_object, '$.spec.rules[*].host'), ', '), ''), '*') AS hosts,
       COALESCE(json_value(request_object, '$.spec.ingressClassName'),
                json_value(request_object, '$.metadata.annotations["kubernetes.io/ingress.class"]'),
                'default') AS ingress_class,
       response_code
FROM events
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND object_resource = 'ingresses'
  AND object_subresource IS NULL
  AND verb = 'create'
  AND response_code BETWEEN 200 AND 299
  AND request_object IS NOT NULL
  -- no tls section, or an empty one
  AND cardinality(json_values(request_object, '$.spec.tls[*]')) = 0
  AND NOT in_list(COALESCE(object_namespace, ''), 'system_namespaces')
  AND COALESCE(user_name, '') NOT LIKE 'system:node:%'
  AND COALESCE(user_name, '') NOT LIKE 'system:kube-%'
  AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:kube-system:%'
