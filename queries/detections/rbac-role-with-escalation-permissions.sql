-- id: rbac-role-with-escalation-permissions
-- title: Role or ClusterRole granting privilege-escalation permissions
-- severity: Notice
-- mitre: T1098.006
-- tags: rbac, privilege-escalation
-- behaviours: 61
-- level: Request
-- mode: event
-- output: {user_name} {verb} {object_resource} {target} granting {reasons} from {source_ip}
-- description: A Role or ClusterRole was created or changed so that it grants a permission that
--   leads to more permissions: the escalate, bind or impersonate verbs; minting service-account
--   tokens (serviceaccounts/token); writing roles or bindings; or reading secrets (which hold
--   service-account tokens and credentials). Whoever holds such a role can raise their own rights.
--   Wildcards, pods/exec and nodes/proxy have rules of their own. Control-plane components and
--   kube-system controllers are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name,
       COALESCE(object_namespace || '/', '') || object_name AS target,
       concat_ws(', ',
         CASE WHEN escalation_verbs <> '' THEN 'verbs ' || escalation_verbs END,
         CASE WHEN mints_tokens THEN 'create serviceaccounts/token' END,
         CASE WHEN writes_rbac THEN 'write access to RBAC' END,
         CASE WHEN reads_secrets THEN 'read access to secrets' END) AS reasons,
       json_value(stored, '$.rules') AS rules
FROM (
  SELECT *,
         array_to_string(array_intersect(json_values(stored, '$.rules[*].verbs[*]'),
                                         make_array('escalate', 'bind', 'impersonate')), ', ') AS escalation_verbs,
         -- each test binds verbs and resources of the same rule element
         json_value(stored, '$.rules[?@.resources[?@ == "serviceaccounts/token"]'
                                 || ' && @.verbs[?@ == "create" || @ == "*"]]') IS NOT NULL AS mints_tokens,
         json_value(stored, '$.rules[?@.resources[?@ == "roles" || @ == "clusterroles"'
                                 || ' || @ == "rolebindings" || @ == "clusterrolebindings"]'
                                 || ' && @.verbs[?@ == "create" || @ == "update" || @ == "patch" || @ == "*"]]') IS NOT NULL AS writes_rbac,
         json_value(stored, '$.rules[?@.resources[?@ == "secrets"]'
                                 || ' && @.verbs[?@ == "get" || @ == "list" || @ == "watch" || @ == "*"]]') IS NOT NULL AS reads_secrets
  FROM (
    SELECT *, COALESCE(response_object, request_object) AS stored
    FROM events_with_principal
    WHERE object_resource IN ('roles', 'clusterroles')
      AND object_subresource IS NULL
      AND verb IN ('create', 'update', 'patch')
  )
)
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  AND (escalation_verbs <> '' OR mints_tokens OR writes_rbac OR reads_secrets)
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
