-- id: client-certificate-csr-approved
-- title: Client-certificate signing request approved
-- severity: Warning
-- mitre: T1649, T1098.001
-- tags: identity, persistence, credential-access
-- behaviours: 69
-- level: Request
-- mode: event
-- output: {user_name} approved client-certificate request {object_name} (signer {signer_name}, subject {requested_by}) from {source_ip}
-- description: A CertificateSigningRequest for an API-server client certificate
--   (signer kubernetes.io/kube-apiserver-client) was approved by a person or a non-system
--   service account. Approval makes the cluster's CA sign a certificate that authenticates as
--   the requested identity until it expires and cannot be revoked. Automatic approval of kubelet
--   certificates by the control plane is not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_subresource, object_name, signer_name,
       json_value(stored, '$.spec.username') AS requested_by
FROM (
  SELECT *, COALESCE(json_value(request_object, '$.spec.signerName'),
                     json_value(response_object, '$.spec.signerName')) AS signer_name,
            COALESCE(response_object, request_object) AS stored
  FROM events_with_principal
  WHERE object_resource = 'certificatesigningrequests'
    AND object_subresource = 'approval'
    AND verb IN ('update', 'patch')
)
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  AND signer_name = 'kubernetes.io/kube-apiserver-client'
  -- the same subresource also records denials
  AND array_has(json_values(request_object, '$.status.conditions[?@.status == "True"].type'), 'Approved')
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
