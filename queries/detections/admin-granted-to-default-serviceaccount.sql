-- id: admin-granted-to-default-serviceaccount
-- title: Privileged role granted to a default service account
-- severity: Error
-- mitre: T1098.006
-- tags: rbac, privilege-escalation, persistence
-- behaviours: 54
-- level: Request
-- mode: event
-- output: {user_name} granted {role_ref} to {granted_to} with {object_resource} {target} from {source_ip}
-- description: A binding gives a privileged role (list privileged_roles) to a namespace's
--   'default' service account, or to a whole service-account group. Every pod that does not name
--   its own service account runs as 'default', so any process in any such pod now holds these
--   rights: one compromised container becomes a cluster administrator. Control-plane components
--   and kube-system controllers are not reported.
SELECT cluster, audit_id, stage_at AS time, user_name, user_agent, source_ip, verb,
       object_resource, object_namespace, object_name,
       COALESCE(object_namespace || '/', '') || object_name AS target, role_ref, granted_to
FROM (
  SELECT *,
         COALESCE(json_value(request_object, '$.roleRef.name'),
                  json_value(response_object, '$.roleRef.name')) AS role_ref,
         -- the subjects that reach default service accounts: kind and name in the same element
         concat_ws(', ',
           CASE WHEN cardinality(default_sa_namespaces) > 0
                THEN array_to_string(default_sa_namespaces, '/default, ') || '/default' END,
           CASE WHEN cardinality(sa_groups) > 0 THEN array_to_string(sa_groups, ', ') END) AS granted_to
  FROM (
    SELECT *,
           json_values(COALESCE(response_object, request_object),
             '$.subjects[?@.kind == "ServiceAccount" && @.name == "default"].namespace') AS default_sa_namespaces,
           json_values(COALESCE(response_object, request_object),
             '$.subjects[?@.kind == "Group" && match(@.name, "system:serviceaccounts(:.*)?")].name') AS sa_groups
    FROM events_with_principal
    WHERE object_resource IN ('rolebindings', 'clusterrolebindings')
      AND object_subresource IS NULL
      AND verb IN ('create', 'update', 'patch')
  )
)
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  AND in_list(role_ref, 'privileged_roles')
  AND granted_to <> ''
  -- not the control plane, a kubelet, a kube-system controller or a listed controller
  AND NOT is_cluster_component
