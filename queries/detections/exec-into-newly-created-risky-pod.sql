-- id: exec-into-newly-created-risky-pod
-- title: Exec or attach into a privileged or host-mounting pod soon after it was created
-- severity: Warning
-- mitre: T1611, T1609, T1610
-- tags: execution, privilege-escalation, container-escape, sequence
-- behaviours: 94
-- level: Request
-- mode: sequence
-- window: 30m
-- filter: object_resource = 'pods'
--   AND ((object_subresource IS NULL AND verb = 'create'
--         AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--         AND response_code BETWEEN 200 AND 299
--         AND (request_object LIKE '%privileged%' OR request_object LIKE '%"add"%'
--              OR request_object LIKE '%hostPID%'
--              OR request_object LIKE '%hostIPC%' OR request_object LIKE '%hostPath%'
--              OR strpos(request_object, '\u') > 0))
--     OR (object_subresource IN ('exec', 'attach') AND stage = 'ResponseStarted'))
-- dedup: cluster, object_namespace, object_name, user_name
-- suppress: 30m
-- output: {user_name} opened {object_subresource} ({command}) in pod {object_namespace}/{object_name} {minutes_after_create} min after {creator} created it with {risk} (images {images}) from {source_ip}
-- description: A pod was created with the power to escape to its node (a privileged container,
--   SYS_ADMIN or ALL capabilities, the host's PID or IPC namespace, or a hostPath volume) and
--   within 30 minutes someone opened an interactive exec or attach session in it. Creating such
--   a pod and stepping into it is the usual path from API access to root on a node; each step
--   alone is common enough, together they rarely are. Node debugging with "kubectl debug node"
--   produces the same pattern and is reported on purpose. Needs the Request level for pods
--   (the pod spec); a pod named by the API server (generateName, i.e. created by a controller)
--   is only matched at RequestResponse, where the response carries its name. The window keeps
--   only the pods whose request body names one of these settings (`privileged`, capabilities
--   `add`, `hostPID`, `hostIPC`, `hostPath`) or holds an escape that could spell one, not the
--   body of every pod created.
WITH sessions AS (
  SELECT *
  FROM new_events
  WHERE object_subresource IN ('exec', 'attach')
    AND stage = 'ResponseStarted'
),
created AS (
  -- only objects of the namespaces exec'd into now: their names are read from the bodies. The
  -- few namespaces come first, so the join holds them, not the window.
  SELECT e.cluster,
         e.audit_id,
         COALESCE(e.stage_at, e.request_received_at) AS created_at,
         e.user_name AS creator,
         e.object_namespace AS ns,
         COALESCE(NULLIF(e.object_name, ''),
                  json_value(e.response_object, '$.metadata.name'),
                  json_value(e.request_object, '$.metadata.name')) AS pod,
         e.request_object
  FROM (SELECT DISTINCT cluster, object_namespace FROM sessions) x
  JOIN events e
    ON e.cluster = x.cluster
   AND e.object_namespace = x.object_namespace
  WHERE e.object_subresource IS NULL
    AND e.verb = 'create'
),
matched AS (
  SELECT x.cluster,
         x.audit_id,
         x.stage_at,
         x.user_name,
         x.source_ip,
         x.user_agent,
         x.verb,
         x.object_namespace,
         x.object_name,
         x.object_subresource,
         x.request_uri,
         c.audit_id AS create_audit_id,
         c.creator,
         c.created_at,
         -- the spec is only read for pods someone stepped into: the CASE ties it to the session
         -- row, so the planner cannot compute it for every pod of the window before the join
         CASE WHEN x.audit_id IS NOT NULL THEN c.request_object END AS spec
  FROM sessions x
  JOIN created c
    ON c.cluster = x.cluster
   AND c.ns = x.object_namespace
   AND c.pod = x.object_name
  WHERE x.stage_at >= c.created_at
    AND x.stage_at <= c.created_at + INTERVAL '30 minutes'
),
flags AS (
  SELECT *,
         -- containers, init containers and ephemeral containers all count
         array_concat(json_values(spec, '$.spec.containers[*].securityContext.privileged'),
                      json_values(spec, '$.spec.initContainers[*].securityContext.privileged'),
                      json_values(spec, '$.spec.ephemeralContainers[*].securityContext.privileged')) AS privileged_flags,
         array_concat(json_values(spec, '$.spec.containers[*].securityContext.capabilities.add[*]'),
                      json_values(spec, '$.spec.initContainers[*].securityContext.capabilities.add[*]')) AS added_caps,
         json_value(spec, '$.spec.hostPID') AS host_pid,
         json_value(spec, '$.spec.hostIPC') AS host_ipc,
         json_values(spec, '$.spec.volumes[*].hostPath.path') AS host_paths,
         array_to_string(json_values(spec, '$.spec.containers[*].image'), ', ') AS images
  FROM matched
),
risky AS (
  SELECT *,
         concat_ws(', ',
           CASE WHEN array_has(privileged_flags, 'true') THEN 'a privileged container' END,
           CASE WHEN array_has(added_caps, 'SYS_ADMIN') OR array_has(added_caps, 'CAP_SYS_ADMIN')
                  OR array_has(added_caps, 'ALL') THEN 'capability ' || array_to_string(added_caps, '+') END,
           CASE WHEN host_pid = 'true' THEN 'hostPID' END,
           CASE WHEN host_ipc = 'true' THEN 'hostIPC' END,
           CASE WHEN cardinality(host_paths) > 0 THEN 'hostPath ' || array_to_string(host_paths, ', ') END
         ) AS risk
  FROM flags
)
SELECT cluster,
       [create_audit_id, audit_id] AS audit_ids,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       object_namespace,
       object_name,
       object_subresource,
       COALESCE(NULLIF(array_to_string(url_query_values(request_uri, 'command'), ' '), ''), '(no command)') AS command,
       creator,
       risk,
       images,
       created_at,
       CAST(floor(date_part('epoch', stage_at) - date_part('epoch', created_at)) / 60 AS BIGINT) AS minutes_after_create
FROM risky
WHERE risk <> ''
