-- id: serviceaccount-created
-- title: Service account created
-- severity: Informational
-- mitre: T1136
-- tags: identity, change-tracking
-- behaviours: 65
-- equivalents: K8s Serviceaccount Created
-- level: Metadata
-- mode: event
-- output: {user_name} created service account {object_namespace}/{object_name} from {source_ip}
-- description: Change tracking for service accounts. A new service account is a new identity
--   that bindings can empower and whose tokens can be minted; attackers create one to hold their
--   access. The 'default' accounts the control plane creates in each new namespace are not
--   reported, nor is anything else done by control-plane components or kube-system controllers.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name
FROM events_with_principal
WHERE object_resource = 'serviceaccounts'
  AND object_subresource IS NULL
  AND verb = 'create'
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
