-- id: self-granted-binding-unlocks-denied-action
-- title: Denied action succeeds right after the identity granted itself a role binding
-- severity: Warning
-- mitre: T1098, T1078
-- tags: privilege-escalation, persistence, rbac, sequence
-- behaviours: 99
-- level: Request
-- mode: sequence
-- window: 2h
-- filter: COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND COALESCE(user_name, '') NOT LIKE 'system:node:%'
--   AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:kube-system:%'
--   AND COALESCE(user_name, '') NOT IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver')
--   AND verb <> 'watch'
--   AND COALESCE(object_resource, '') NOT IN ('leases', 'events')
--   AND (authz_decision = 'forbid' OR response_code = 403 OR response_code BETWEEN 200 AND 299)
-- bodies: request_object($.roleRef, $.subjects)
-- dedup: cluster, user_name, binding
-- suppress: 1h
-- output: {user_name} was denied {verb} {what} at {denied_at}, then {granter} created {binding} (role {role}) naming it at {bound_at}, and {verb} {what} succeeded at {time} from {source_ip}
-- description: An identity was refused an action, then a RoleBinding or ClusterRoleBinding naming
--   it (as a user, service account or one of its groups) was created or changed, and within an
--   hour the same verb on the same resource succeeded. Reported when the binding was made by the
--   identity itself, or by a service account working from the address the denied request came
--   from: an intruder holding bind/escalate rights, or two stolen tokens in one pod, promoting
--   itself and using the new rights at once. An administrator granting access after a request
--   from a colleague does not match (different identity, different address). Needs the Request
--   level for role bindings (the subjects).
WITH bindings AS (
  SELECT cluster,
         audit_id,
         COALESCE(stage_at, request_received_at) AS bound_at,
         user_name AS granter,
         source_ip AS granter_ip,
         CASE WHEN object_resource = 'clusterrolebindings' THEN 'clusterrolebinding ' || object_name
              ELSE 'rolebinding ' || object_namespace || '/' || object_name END AS binding,
         object_namespace AS binding_ns,
         json_value(request_object, '$.roleRef.kind') || ' ' || json_value(request_object, '$.roleRef.name') AS role,
         unnest(json_values(request_object, '$.subjects[*]')) AS subject
  FROM events
  WHERE object_resource IN ('rolebindings', 'clusterrolebindings')
    AND verb IN ('create', 'update', 'patch')
    AND response_code BETWEEN 200 AND 299
),
subjects AS (
  SELECT b.*,
         json_get_str(subject, 'kind') AS subject_kind,
         CASE json_get_str(subject, 'kind')
           WHEN 'ServiceAccount' THEN 'system:serviceaccount:'
                || COALESCE(json_get_str(subject, 'namespace'), binding_ns) || ':' || json_get_str(subject, 'name')
           ELSE json_get_str(subject, 'name')
         END AS principal
  FROM bindings b
),
denied AS (
  SELECT cluster,
         audit_id,
         COALESCE(stage_at, request_received_at) AS t,
         user_name,
         source_ip,
         verb,
         object_resource,
         COALESCE(object_subresource, '') AS subresource
  FROM events
  WHERE (authz_decision = 'forbid' OR response_code = 403)
    AND object_resource IS NOT NULL
),
allowed AS (
  SELECT cluster,
         audit_id,
         COALESCE(stage_at, request_received_at) AS t,
         user_name,
         user_groups,
         source_ip,
         user_agent,
         verb,
         object_resource,
         COALESCE(object_subresource, '') AS subresource,
         object_namespace,
         object_name
  FROM new_events
  WHERE response_code BETWEEN 200 AND 299
    AND COALESCE(authz_decision, 'allow') = 'allow'
    AND object_resource IS NOT NULL
),
chains AS (
  SELECT a.*,
         s.audit_id AS binding_audit_id,
         s.binding,
         s.role,
         s.granter,
         s.bound_at,
         d.audit_id AS denied_audit_id,
         d.t AS denied_at,
         row_number() OVER (PARTITION BY a.audit_id ORDER BY s.bound_at DESC, d.t DESC) AS rn
  FROM allowed a
  JOIN subjects s
    ON s.cluster = a.cluster
   AND s.bound_at < a.t
   AND a.t <= s.bound_at + INTERVAL '1 hour'
   AND ((s.subject_kind IN ('User', 'ServiceAccount') AND s.principal = a.user_name)
        OR (s.subject_kind = 'Group' AND array_has(a.user_groups, s.principal)))
  JOIN denied d
    ON d.cluster = a.cluster
   AND d.user_name = a.user_name
   AND d.verb = a.verb
   AND d.object_resource = a.object_resource
   AND d.subresource = a.subresource
   AND d.t < s.bound_at
   AND d.t >= s.bound_at - INTERVAL '1 hour'
  WHERE s.granter = a.user_name
     OR (s.granter LIKE 'system:serviceaccount:%' AND s.granter_ip = d.source_ip)
)
SELECT cluster,
       [denied_audit_id, binding_audit_id, audit_id] AS audit_ids,
       t AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       object_resource,
       object_namespace,
       object_name,
       object_resource || CASE WHEN subresource <> '' THEN '/' || subresource ELSE '' END AS what,
       binding,
       role,
       granter,
       bound_at,
       denied_at
FROM chains
WHERE rn = 1
