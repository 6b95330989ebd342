-- id: eks-aws-auth-configmap-modified
-- title: EKS aws-auth ConfigMap modified
-- severity: Warning
-- mitre: T1098.003
-- tags: eks, identity, persistence
-- behaviours: 71
-- level: Metadata
-- mode: event
-- output: {user_name} {verb} ConfigMap kube-system/aws-auth from {source_ip} ({user_agent})
-- description: The kube-system/aws-auth ConfigMap maps AWS IAM roles and users to Kubernetes
--   users and groups on EKS. Whoever edits it can give any AWS principal (including one in
--   another account) system:masters, or lock administrators out. Every change should be a
--   planned one. EKS's own components (eks:*) are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name
FROM events
WHERE object_resource = 'configmaps'
  AND object_namespace = 'kube-system'
  AND object_name = 'aws-auth'
  AND verb IN ('create', 'update', 'patch', 'delete')
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:kube-system:%'
  AND COALESCE(user_name, '') NOT LIKE 'system:node:%'
  AND COALESCE(user_name, '') NOT LIKE 'eks:%'
  AND COALESCE(user_name, '') NOT IN ('system:apiserver', 'system:kube-controller-manager',
                                      'system:kube-scheduler', 'system:kube-proxy',
                                      'system:addon-manager')
  AND COALESCE(user_name, '') NOT IN (SELECT value FROM known_controllers)
