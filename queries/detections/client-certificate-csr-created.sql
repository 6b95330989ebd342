-- id: client-certificate-csr-created
-- title: Client-certificate signing request created
-- severity: Notice
-- mitre: T1649, T1098.001
-- tags: identity, persistence, credential-access
-- behaviours: 69
-- equivalents: Kubernetes.ClientCertificate.Created
-- level: Request
-- mode: event
-- output: {user_name} requested a client certificate (CSR {object_name}, signer {signer_name}, usages {usages}) from {source_ip}
-- description: A CertificateSigningRequest for an API-server client certificate was created by
--   someone other than the control plane or a joining node. Once approved and signed, the
--   certificate authenticates as the user and groups written in it until it expires, and
--   Kubernetes cannot revoke it: a durable backdoor identity. Kubelet certificates (signer
--   kubernetes.io/kube-apiserver-client-kubelet) are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_name, signer_name,
       array_to_string(json_values(request_object, '$.spec.usages[*]'), ', ') AS usages
FROM (
  SELECT *, json_value(request_object, '$.spec.signerName') AS signer_name
  FROM events_with_principal
  WHERE object_resource = 'certificatesigningrequests'
    AND object_subresource IS NULL
    AND verb = 'create'
)
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  AND (signer_name = 'kubernetes.io/kube-apiserver-client'
       -- custom or legacy signers: judge by the requested usage
       OR (array_has(json_values(request_object, '$.spec.usages[*]'), 'client auth')
           AND COALESCE(signer_name, '') <> 'kubernetes.io/kube-apiserver-client-kubelet'))
  -- bootstrap tokens of joining nodes
  AND COALESCE(user_name, '') NOT LIKE 'system:bootstrap:%'
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
