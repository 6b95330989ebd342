-- id: serviceaccount-created-in-system-namespace
-- title: Service account created in a system namespace
-- severity: Warning
-- mitre: T1136, T1036
-- tags: identity, persistence
-- behaviours: 66
-- equivalents: Service Account Created in Kube Namespace
-- level: Metadata
-- mode: event
-- output: {user_name} created service account {object_namespace}/{object_name} in a system namespace from {source_ip}
-- description: A service account was created in a system namespace (list system_namespaces:
--   kube-system, kube-public, kube-node-lease) by someone other than the control plane.
--   Identities there look like cluster components and are rarely reviewed, which makes them a
--   good place to hide a backdoor account. Accounts of known components (list
--   known_system_serviceaccounts) are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name
FROM events_with_principal
WHERE object_resource = 'serviceaccounts'
  AND object_subresource IS NULL
  AND verb = 'create'
  AND in_list(object_namespace, 'system_namespaces')
  AND NOT in_list(COALESCE(object_name, ''), 'known_system_serviceaccounts')
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
