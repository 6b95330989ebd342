-- id: exec-into-pod-with-privileged-service-account
-- title: Exec or attach into a pod that runs as a highly privileged service account
-- severity: Warning
-- mitre: T1609, T1528, T1078.004
-- tags: execution, credential-access, privilege-escalation, sequence
-- behaviours: 100
-- level: Request
-- mode: sequence
-- window: 30d
-- filter: (object_resource = 'pods' AND object_subresource IS NULL AND verb = 'create'
--          AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--          AND response_code BETWEEN 200 AND 299)
--   OR (object_resource IN ('rolebindings', 'clusterrolebindings') AND verb IN ('create', 'update', 'patch')
--       AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--       AND response_code BETWEEN 200 AND 299)
--   OR (object_resource = 'pods' AND object_subresource IN ('exec', 'attach') AND stage = 'ResponseStarted')
-- bodies: request_object($.metadata.name, $.spec.serviceAccountName, $.spec.serviceAccount,
--   $.spec.automountServiceAccountToken, $.roleRef.name, $.subjects),
--   response_object($.metadata.name)
-- dedup: cluster, user_name, object_namespace, object_name
-- suppress: 1h
-- output: {user_name} opened {object_subresource} ({command}) in pod {object_namespace}/{object_name}, which runs as {service_account} ({why}), from {source_ip}
-- description: Someone opened an exec or attach session in a pod whose service account holds
--   powerful cluster rights. Whoever has a shell there can read the mounted token and act with
--   those rights, so an exec into such a pod is as sensitive as being handed the account itself.
--   A service account is "highly privileged" when it is in list privileged_service_accounts or
--   when a (Cluster)RoleBinding to a role in list privileged_roles (cluster-admin, admin, ...)
--   naming it was created in the last 30 days. The pod's service account comes from its creation
--   in the last 30 days (spec.serviceAccountName); pods that do not mount a token
--   (automountServiceAccountToken false) are skipped. Needs the Request level for pods and role
--   bindings; pods named by the API server (generateName) need RequestResponse.
WITH pods AS (
  -- only pods of the namespaces exec'd into now: their names are read from the bodies. The
  -- few namespaces come first, so the join holds them, not the window.
  SELECT e.cluster,
         e.audit_id,
         COALESCE(e.stage_at, e.request_received_at) AS t,
         e.object_namespace AS ns,
         COALESCE(NULLIF(e.object_name, ''),
                  json_value(e.response_object, '$.metadata.name'),
                  json_value(e.request_object, '$.metadata.name')) AS pod,
         e.request_object
  FROM (SELECT DISTINCT cluster, object_namespace
        FROM new_events
        WHERE object_resource = 'pods'
          AND object_subresource IN ('exec', 'attach')) x
  JOIN events e
    ON e.cluster = x.cluster
   AND e.object_namespace = x.object_namespace
  WHERE e.object_resource = 'pods'
    AND e.object_subresource IS NULL
    AND e.verb = 'create'
),
grants AS (
  SELECT cluster,
         object_resource,
         object_namespace AS binding_ns,
         object_name AS binding_name,
         json_value(request_object, '$.roleRef.name') AS role,
         unnest(json_values(request_object, '$.subjects[*]')) AS subject
  FROM events
  WHERE object_resource IN ('rolebindings', 'clusterrolebindings')
),
privileged AS (
  SELECT cluster,
         'system:serviceaccount:' || COALESCE(json_get_str(subject, 'namespace'), binding_ns) || ':'
           || json_get_str(subject, 'name') AS service_account,
         CASE WHEN object_resource = 'clusterrolebindings' THEN 'clusterrolebinding ' ELSE 'rolebinding ' || binding_ns || '/' END
           || binding_name || ' -> ' || role AS why
  FROM grants
  WHERE json_get_str(subject, 'kind') = 'ServiceAccount'
    AND in_list(role, 'privileged_roles')
),
sessions AS (
  SELECT x.*,
         p.audit_id AS pod_audit_id,
         -- the spec is only read for pods someone stepped into: the CASE ties it to the session
         -- row, so the planner cannot compute it for every pod of the window before the join
         CASE WHEN x.audit_id IS NOT NULL THEN p.request_object END AS spec,
         row_number() OVER (PARTITION BY x.audit_id ORDER BY p.t DESC) AS rn
  FROM new_events x
  JOIN pods p
    ON p.cluster = x.cluster
   AND p.ns = x.object_namespace
   AND p.pod = x.object_name
   AND p.t <= COALESCE(x.stage_at, x.request_received_at)
  WHERE x.object_resource = 'pods'
    AND x.object_subresource IN ('exec', 'attach')
    AND x.stage = 'ResponseStarted'
),
execs AS (
  SELECT *,
         'system:serviceaccount:' || object_namespace || ':'
           || COALESCE(json_value(spec, '$.spec.serviceAccountName'),
                       json_value(spec, '$.spec.serviceAccount'),
                       'default') AS service_account,
         json_value(spec, '$.spec.automountServiceAccountToken') AS automount
  FROM sessions
  WHERE rn = 1
),
reasons AS (
  SELECT e.audit_id,
         array_to_string(array_agg(DISTINCT pr.why), '; ') AS why
  FROM execs e
  JOIN (
    SELECT cluster, service_account, why FROM privileged
    UNION ALL
    SELECT e2.cluster, l.value AS service_account, 'list privileged_service_accounts' AS why
    FROM (SELECT DISTINCT cluster FROM execs) e2
    CROSS JOIN privileged_service_accounts l
  ) pr
    ON pr.cluster = e.cluster
   AND pr.service_account = e.service_account
  GROUP BY e.audit_id
)
SELECT e.cluster,
       [e.pod_audit_id, e.audit_id] AS audit_ids,
       e.stage_at AS time,
       e.user_name,
       e.source_ip,
       e.user_agent,
       e.verb,
       e.object_namespace,
       e.object_name,
       e.object_subresource,
       COALESCE(NULLIF(array_to_string(url_query_values(e.request_uri, 'command'), ' '), ''), '(no command)') AS command,
       e.service_account,
       r.why
FROM execs e
JOIN reasons r
  ON r.audit_id = e.audit_id
WHERE COALESCE(e.automount, 'true') <> 'false'
