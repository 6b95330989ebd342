-- id: rbac-role-elevated-to-wildcard
-- title: Existing Role or ClusterRole changed to hold wildcard rules
-- severity: Notice
-- mitre: T1098.006
-- tags: rbac, privilege-escalation
-- behaviours: 57
-- level: Request
-- mode: event
-- output: {user_name} {verb} {object_resource} {target}; it now has wildcard rules {rules} (from {source_ip})
-- description: An update or patch left a Role or ClusterRole with '*' as a verb or a resource.
--   Widening a role that is already bound gives its existing subjects every right at once,
--   without a new binding that reviewers would notice. The stored object (logged at level
--   RequestResponse) is checked; at level Request, the patch or update body. Re-applying a role
--   that already had a wildcard also matches. Control-plane components and kube-system
--   controllers (such as the ClusterRole aggregation controller) are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name,
       COALESCE(object_namespace || '/', '') || object_name AS target,
       json_value(stored, '$.rules') AS rules
FROM (
  SELECT *, COALESCE(response_object, request_object) AS stored
  FROM events_with_principal
  WHERE object_resource IN ('roles', 'clusterroles')
    AND object_subresource IS NULL
    AND verb IN ('update', 'patch')
)
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  AND (array_has(json_values(stored, '$.rules[*].verbs[*]'), '*')
       OR array_has(json_values(stored, '$.rules[*].resources[*]'), '*'))
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
