-- id: pod-created-in-system-namespace
-- title: Pod created directly in a system namespace by a non-system identity
-- severity: Warning
-- mitre: T1610, T1036.005
-- tags: persistence, defense-evasion, kube-system
-- behaviours: 41
-- equivalents: Kubernetes.Pod.SystemNamespace
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace, object_name
-- suppress: 10m
-- output: {user_name} created pod {object_namespace}/{object_name} (images {images}) from {source_ip} with {user_agent}
-- description: A person or a service account from outside kube-system created a pod directly in a
--   system namespace (kube-system, kube-public, kube-node-lease). The cluster's own components get
--   their pods from controllers, the kubelet (static pods) or managed-cloud operators; a pod
--   written by hand there hides among them and can use kube-system's powerful service accounts and
--   secrets. Evictions (kubectl drain) and other pod subresources are not pod creations. Identities
--   in `known_controllers` are treated as system identities. Images are shown when the policy logs
--   the request body.
SELECT cluster, audit_id, stage_at AS time, user_name, source_ip, user_agent, object_namespace,
       object_name,
       array_to_string(json_values(pod_spec, '$["containers","initContainers"][*].image'), ', ')
         AS images
FROM pod_spec_writes
WHERE object_resource = 'pods'
  AND object_subresource IS NULL
  AND verb = 'create'
  AND in_list(object_namespace, 'system_namespaces')
  -- not the control plane, nodes (static pods), kube-system service accounts or cloud operators
  AND NOT is_system_principal
