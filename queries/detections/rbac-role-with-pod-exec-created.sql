-- id: rbac-role-with-pod-exec-created
-- title: Role or ClusterRole granting pods/exec or pods/attach created
-- severity: Warning
-- mitre: T1098.006, T1609
-- tags: rbac, execution
-- behaviours: 59
-- equivalents: ClusterRole With Pod Exec Created | Kubernetes.Role.PodExec
-- level: Request
-- mode: event
-- output: {user_name} created {object_resource} {target} granting {exec_resources}: {rules} from {source_ip}
-- description: A Role or ClusterRole was created that grants pods/exec or pods/attach. Whoever
--   holds it can run commands inside pods and use their service-account tokens, mounted secrets
--   and network position. Control-plane components and kube-system controllers are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name,
       COALESCE(object_namespace || '/', '') || object_name AS target,
       array_to_string(array_intersect(json_values(request_object, '$.rules[*].resources[*]'),
                                       make_array('pods/exec', 'pods/attach', 'pods/*')), ', ') AS exec_resources,
       json_value(request_object, '$.rules') AS rules
FROM events_with_principal
WHERE object_resource IN ('roles', 'clusterroles')
  AND object_subresource IS NULL
  AND verb = 'create'
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  AND array_has_any(json_values(request_object, '$.rules[*].resources[*]'),
                    make_array('pods/exec', 'pods/attach', 'pods/*'))
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
