-- id: admission-webhook-modified-or-deleted
-- title: Admission webhook configuration modified or deleted
-- severity: Notice
-- mitre: T1546, T1562.001
-- tags: admission, persistence, defense-evasion
-- behaviours: 70
-- level: Metadata
-- mode: event
-- output: {user_name} {verb} {object_resource} {object_name} from {source_ip} ({user_agent})
-- description: A mutating or validating admission webhook configuration was changed or removed.
--   Changing one can redirect objects to another service or widen what it intercepts; deleting
--   or loosening a validating webhook switches off the policy engine (Gatekeeper, Kyverno) that
--   blocks privileged workloads. Controllers that rotate the webhooks' CA bundles belong in
--   known_controllers; kube-system controllers are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_name
FROM events_with_principal
WHERE object_resource IN ('mutatingwebhookconfigurations', 'validatingwebhookconfigurations')
  AND object_subresource IS NULL
  AND verb IN ('update', 'patch', 'delete', 'deletecollection')
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
