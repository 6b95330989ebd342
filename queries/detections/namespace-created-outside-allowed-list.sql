-- id: namespace-created-outside-allowed-list
-- title: Namespace created outside the allowed list
-- severity: Warning
-- mitre: T1564
-- tags: namespace, policy
-- behaviours: 74
-- equivalents: Create Disallowed Namespace
-- level: Metadata
-- mode: event
-- output: {user_name} created namespace {object_name}, which is not in allowed_namespaces, from {source_ip}
-- description: A namespace was created whose name is not in the list allowed_namespaces. In a
--   cluster whose namespaces are managed, an unexpected one is where unreviewed workloads, roles
--   and secrets appear. The rule is off while allowed_namespaces is empty. Control-plane
--   components and kube-system controllers are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_name
FROM (
  SELECT cluster, audit_id, stage_at, user_name, user_agent, source_ip, verb, object_resource,
         stage, response_code,
         -- objectRef.name can be missing on create; the body then has it
         COALESCE(object_name, json_value(response_object, '$.metadata.name'),
                  json_value(request_object, '$.metadata.name')) AS object_name
  FROM events_with_principal
  WHERE object_resource = 'namespaces'
    AND object_subresource IS NULL
    AND verb = 'create'
    -- not the control plane, a kubelet, a kube-system controller or a listed controller
    AND NOT is_cluster_component
)
WHERE EXISTS (SELECT 1 FROM allowed_namespaces)
  AND NOT in_list(COALESCE(object_name, ''), 'allowed_namespaces')
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
