-- id: rbac-change-then-workload-change
-- title: Sensitive RBAC change followed by a workload change by the same identity
-- severity: Notice
-- mitre: T1098.006, T1610
-- tags: rbac, privilege-escalation, execution, sequence
-- behaviours: 64
-- level: Request
-- mode: sequence
-- window: 5m
-- filter: COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND response_code BETWEEN 200 AND 299
--   AND verb IN ('create', 'update', 'patch')
--   AND object_subresource IS NULL
--   AND object_resource IN ('roles', 'clusterroles', 'rolebindings', 'clusterrolebindings',
--                           'pods', 'deployments', 'daemonsets', 'statefulsets', 'replicasets',
--                           'jobs', 'cronjobs')
-- dedup: cluster, user_name, rbac_object
-- suppress: 10m
-- output: {user_name} made a sensitive RBAC change ({rbac_change}) and then {workload_change} within {seconds_between}s from {source_ip}
-- description: The same identity granted powerful permissions (a wildcard role, escalate, bind
--   or impersonate, secrets read, or a binding to a privileged role) and within five minutes
--   created or changed a workload. This is the shape of an attacker who first gives a service
--   account more rights and then starts a pod that uses them. Installing an application that
--   ships its own powerful role also matches; check that the workload and the role belong
--   together. Control-plane components and kube-system controllers are not reported.
WITH rbac AS (
  SELECT cluster, audit_id, stage_at, user_name, object_resource, object_namespace, object_name,
         verb, COALESCE(response_object, request_object) AS stored
  FROM events
  WHERE object_resource IN ('roles', 'clusterroles', 'rolebindings', 'clusterrolebindings')
),
sensitive_rbac AS (
  SELECT cluster, audit_id, stage_at, user_name,
         object_resource || ' ' || COALESCE(object_namespace || '/', '') || object_name AS rbac_object,
         verb || ' ' || object_resource || ' ' || COALESCE(object_namespace || '/', '') || object_name AS rbac_change
  FROM rbac
  WHERE (object_resource IN ('roles', 'clusterroles')
         AND (array_has_any(json_values(stored, '$.rules[*].verbs[*]'),
                            make_array('*', 'escalate', 'bind', 'impersonate'))
              OR array_has(json_values(stored, '$.rules[*].resources[*]'), '*')
              OR json_value(stored, '$.rules[?@.resources[?@ == "secrets"]'
                                         || ' && @.verbs[?@ == "get" || @ == "list" || @ == "watch"]]') IS NOT NULL))
     OR (object_resource IN ('rolebindings', 'clusterrolebindings')
         AND in_list(json_value(stored, '$.roleRef.name'), 'privileged_roles'))
),
workload AS (
  SELECT cluster, audit_id, stage_at, user_name, source_ip,
         verb || ' ' || object_resource || ' ' || COALESCE(object_namespace || '/', '') || object_name AS workload_change
  FROM new_events
  WHERE object_resource IN ('pods', 'deployments', 'daemonsets', 'statefulsets', 'replicasets',
                            'jobs', 'cronjobs')
)
SELECT w.cluster, make_array(r.audit_id, w.audit_id) AS audit_ids, w.stage_at AS time,
       w.user_name, w.source_ip, r.rbac_object, r.rbac_change, w.workload_change,
       CAST(date_part('epoch', w.stage_at) - date_part('epoch', r.stage_at) AS BIGINT) AS seconds_between
FROM sensitive_rbac r
JOIN workload w
  ON w.cluster = r.cluster
 AND w.user_name = r.user_name
WHERE w.stage_at >= r.stage_at
  AND w.stage_at <= r.stage_at + INTERVAL '5 minutes'
  AND w.user_name NOT LIKE 'system:serviceaccount:kube-system:%'
  AND w.user_name NOT LIKE 'system:node:%'
  AND w.user_name NOT LIKE 'eks:%'
  AND w.user_name NOT IN ('system:apiserver', 'system:kube-controller-manager',
                          'system:kube-scheduler', 'system:kube-proxy', 'system:addon-manager')
  AND NOT in_list(w.user_name, 'known_controllers')
