-- id: workload-created-then-exec
-- title: Identity created a workload and then exec'd into its pod
-- severity: Notice
-- mitre: T1610, T1609
-- tags: execution, sequence
-- behaviours: 95
-- level: Metadata
-- mode: sequence
-- window: 30m
-- filter: COALESCE(user_name, '') NOT LIKE 'system:node:%'
--   AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:kube-system:%'
--   AND ((verb = 'create' AND object_subresource IS NULL
--         AND object_resource IN ('pods', 'deployments', 'statefulsets', 'daemonsets', 'replicasets', 'jobs', 'cronjobs')
--         AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--         AND response_code BETWEEN 200 AND 299)
--     OR (object_resource = 'pods' AND object_subresource IN ('exec', 'attach') AND stage = 'ResponseStarted'))
-- dedup: cluster, user_name, object_namespace, created_name
-- suppress: 30m
-- output: {user_name} created {created_resource} {object_namespace}/{created_name} and {minutes_after_create} min later opened {object_subresource} ({command}) in its pod {object_name} from {source_ip}
-- description: The same identity created a pod or a workload (Deployment, StatefulSet,
--   DaemonSet, ReplicaSet, Job, CronJob) and within 30 minutes opened an exec or attach session
--   in a pod of it. Deploying a foothold and stepping into it is how an intruder with API access
--   gets an interactive shell with the workload's service account and volumes. It is also a
--   normal debugging habit ("kubectl run -it"), hence Notice; look at the image, the namespace
--   and the command. Pods of a workload are matched by name (the workload's name followed by
--   a dash). Creates by nodes and kube-system controllers are ignored.
WITH created AS (
  SELECT cluster,
         audit_id,
         COALESCE(stage_at, request_received_at) AS created_at,
         user_name,
         object_resource,
         object_namespace,
         COALESCE(NULLIF(object_name, ''),
                  json_value(response_object, '$.metadata.name'),
                  json_value(request_object, '$.metadata.name')) AS name
  FROM events
  WHERE verb = 'create'
    AND object_subresource IS NULL
)
SELECT x.cluster,
       [c.audit_id, x.audit_id] AS audit_ids,
       x.stage_at AS time,
       x.user_name,
       x.source_ip,
       x.user_agent,
       x.object_namespace,
       x.object_name,
       x.object_subresource,
       COALESCE(NULLIF(array_to_string(url_query_values(x.request_uri, 'command'), ' '), ''), '(no command)') AS command,
       c.object_resource AS created_resource,
       c.name AS created_name,
       c.created_at,
       CAST(floor(date_part('epoch', x.stage_at) - date_part('epoch', c.created_at)) / 60 AS BIGINT) AS minutes_after_create
FROM new_events x
JOIN created c
  ON c.cluster = x.cluster
 AND c.user_name = x.user_name
 AND c.object_namespace = x.object_namespace
WHERE x.object_resource = 'pods'
  AND x.object_subresource IN ('exec', 'attach')
  AND x.stage = 'ResponseStarted'
  AND x.stage_at >= c.created_at
  AND x.stage_at <= c.created_at + INTERVAL '30 minutes'
  AND (
        (c.object_resource = 'pods' AND x.object_name = c.name)
        -- deployment web -> pod web-7c9d8f6b5d-x2x9z; statefulset db -> db-0; job -> job-abcde
        OR (c.object_resource <> 'pods' AND starts_with(x.object_name, c.name || '-'))
      )
