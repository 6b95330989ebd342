-- id: workload-container-added
-- title: Container added to an existing workload
-- severity: Notice
-- mitre: T1610, T1525
-- tags: persistence, execution, workload
-- behaviours: 48
-- level: RequestResponse
-- mode: sequence
-- window: 30d
-- filter: object_resource IN ('deployments', 'daemonsets', 'statefulsets', 'cronjobs')
--   AND object_subresource IS NULL
--   AND verb IN ('create', 'update', 'patch')
--   AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND response_code BETWEEN 200 AND 299
-- compact: cluster, object_resource, object_namespace, object_name,
--   response_object IS NOT NULL OR (verb IN ('create', 'update') AND request_object IS NOT NULL)
-- bodies: request_object($.spec), response_object($.spec)
-- dedup: cluster, object_resource, object_namespace, object_name, added_containers
-- suppress: 1h
-- output: {user_name} added container(s) {added_containers} (images {added_images}) to {object_resource} {object_namespace}/{object_name} from {source_ip} with {user_agent}
-- description: An update or patch of an existing Deployment, DaemonSet, StatefulSet or CronJob
--   added a container (or init container) that the workload did not have: a sidecar injected into a
--   running application. The new container runs next to the application with its service account,
--   volumes, secrets and network, which makes sidecar injection a quiet way to persist in, or read
--   traffic of, a trusted workload. The rule compares the container names of the workload after the
--   write (response body, or the body of an update) with its state after the previous write seen in
--   the last 30 days; a JSON patch that adds to the container list is reported without history.
--   Image bumps, restarts and scaling do not change the container set and are not reported.

-- Only the new writes and, for each, the latest earlier state of its workload are parsed; the
-- window holds every write of 30 days, and parsing all of them on every batch does not scale.
WITH new_writes AS (
  -- the workload after each new write: the response body, else the full body of an update
  SELECT cluster, audit_id, COALESCE(stage_at, request_received_at) AS at, user_name, source_ip,
         user_agent, object_resource, object_namespace, object_name,
         COALESCE(response_object,
                  CASE WHEN verb IN ('create', 'update') THEN request_object END) AS after_object
  FROM new_events
  WHERE verb IN ('update', 'patch')
    -- a status write cannot change the spec
    AND object_subresource IS NULL
    AND (response_object IS NOT NULL OR (verb = 'update' AND request_object IS NOT NULL))
),
states AS (
  -- the window's writes that logged the workload's state (the new writes included), without
  -- their bodies
  SELECT cluster, audit_id, COALESCE(stage_at, request_received_at) AS at, object_resource,
         object_namespace, object_name
  FROM events
  WHERE response_object IS NOT NULL
     OR (verb IN ('create', 'update') AND request_object IS NOT NULL)
),
previous AS (
  -- each write next to the latest earlier state of the same workload: one sort of the window
  SELECT cluster, audit_id, before_audit_id
  FROM (SELECT cluster, audit_id, at,
               lag(audit_id) OVER (PARTITION BY cluster, object_resource, object_namespace, object_name
                                   ORDER BY at, audit_id) AS before_audit_id,
               lag(at) OVER (PARTITION BY cluster, object_resource, object_namespace, object_name
                             ORDER BY at, audit_id) AS before_at
        FROM states) ordered
  WHERE before_at < at
),
compared AS (
  SELECT n.*,
         json_values(n.after_object, '$.spec..["containers","initContainers"][*].name') AS names,
         json_values(COALESCE(e.response_object,
                              CASE WHEN e.verb IN ('create', 'update') THEN e.request_object END),
                     '$.spec..["containers","initContainers"][*].name') AS names_before
  FROM new_writes n
  JOIN previous p ON p.cluster = n.cluster AND p.audit_id = n.audit_id
  JOIN events e ON e.cluster = n.cluster AND e.audit_id = p.before_audit_id
),
diffed AS (
  SELECT cluster, audit_id, at, user_name, source_ip, user_agent, object_resource,
         object_namespace, object_name, after_object,
         unnest(array_except(names, names_before)) AS added
  FROM compared
),
added AS (
  SELECT cluster, audit_id, at, user_name, source_ip, user_agent, object_resource,
         object_namespace, object_name, added,
         -- container names are DNS labels: no quotes to escape
         json_value(after_object,
                    '$.spec..["containers","initContainers"][?@.name=="' || added || '"].image')
           AS added_image
  FROM diffed
  UNION ALL
  -- a JSON patch (RFC 6902) that adds to a container list needs no history
  SELECT cluster, audit_id, COALESCE(stage_at, request_received_at) AS at, user_name, source_ip,
         user_agent, object_resource, object_namespace, object_name,
         json_get_str(operation, 'value', 'name') AS added,
         json_get_str(operation, 'value', 'image') AS added_image
  FROM (SELECT e.*, unnest(json_values(request_object, '$[?@.op=="add"]')) AS operation
        FROM new_events e
        WHERE verb = 'patch' AND object_subresource IS NULL)
  WHERE regexp_like(json_get_str(operation, 'path'),
                    '^/spec/(jobTemplate/spec/)?template/spec/(initContainers|containers)/(-|[0-9]+)$')
)
SELECT cluster, audit_id, min(at) AS time, user_name, source_ip, user_agent, object_resource,
       object_namespace, object_name,
       array_to_string(array_sort(array_agg(DISTINCT added)), ', ') AS added_containers,
       array_to_string(array_sort(array_agg(DISTINCT added_image)), ', ') AS added_images
FROM added
WHERE added IS NOT NULL
GROUP BY cluster, audit_id, user_name, source_ip, user_agent, object_resource, object_namespace,
         object_name
