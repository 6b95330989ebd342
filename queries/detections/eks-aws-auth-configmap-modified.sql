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
FROM events_with_principal
WHERE object_resource = 'configmaps'
  AND object_namespace = 'kube-system'
  AND object_name = 'aws-auth'
  AND verb IN ('create', 'update', 'patch', 'delete')
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
