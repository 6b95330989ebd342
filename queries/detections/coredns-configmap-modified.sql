-- id: coredns-configmap-modified
-- title: Cluster DNS configuration modified
-- severity: Warning
-- mitre: T1557, T1565.002
-- tags: dns, impact, credential-access
-- behaviours: 72
-- level: Metadata
-- mode: event
-- output: {user_name} {verb} ConfigMap kube-system/{object_name} from {source_ip} ({user_agent})
-- description: The CoreDNS or kube-dns configuration (kube-system ConfigMaps coredns,
--   coredns-custom, kube-dns) was changed or deleted. It decides how every pod resolves names;
--   a rewrite or forward rule can send service traffic, including credentials, to an attacker's
--   endpoint, or break name resolution cluster-wide. DNS add-on managers and other control-plane
--   components are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name
FROM events_with_principal
WHERE object_resource = 'configmaps'
  AND object_namespace = 'kube-system'
  AND object_name IN ('coredns', 'coredns-custom', 'kube-dns')
  AND verb IN ('update', 'patch', 'delete')
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
