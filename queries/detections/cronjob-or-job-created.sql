-- id: cronjob-or-job-created
-- title: CronJob created or changed, or Job created
-- severity: Notice
-- mitre: T1053.007
-- tags: execution, persistence, workload
-- behaviours: 47
-- equivalents: Kubernetes.CronJob.CreatedOrModified
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_resource, object_namespace, object_name
-- suppress: 1h
-- output: {user_name} {verb} {object_resource} {object_namespace}/{object_name} (schedule {schedule}, images {images}) from {source_ip} with {user_agent}
-- description: A CronJob was created, updated or patched, or a Job was created by someone other
--   than a controller. A CronJob re-runs its pod on a schedule: an intruder's CronJob keeps coming
--   back after its pods are deleted, and a changed schedule or image in an existing one hides new
--   code behind a familiar name. Jobs that the CronJob controller starts on schedule, status
--   updates and cluster components in system namespaces are left out. Schedule and images are shown
--   when the policy logs the request body.
SELECT cluster, audit_id, stage_at AS time, user_name, source_ip, user_agent, verb, object_resource,
       object_namespace,
       COALESCE(object_name,
                json_value(response_object, '$.metadata.name'),
                json_value(request_object, '$.metadata.name'),
                json_value(request_object, '$.metadata.generateName')) AS object_name,
       json_value(request_object, '$.spec.schedule') AS schedule,
       array_to_string(
         json_values(request_object, '$..["containers","initContainers"][*].image'), ', ') AS images
FROM events_with_principal
WHERE object_resource IN ('cronjobs', 'jobs')
  AND object_subresource IS NULL
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  AND (
        -- system principals (control plane, kube-system service accounts such as the CronJob
        -- and Job controllers, cloud operators, known controllers) in system namespaces
        (object_resource = 'cronjobs'
         AND verb IN ('create', 'update', 'patch')
         AND NOT (is_system_principal
                  AND in_list(COALESCE(object_namespace, ''), 'system_namespaces')))
        -- Jobs: only those that no controller started
     OR (object_resource = 'jobs'
         AND verb = 'create'
         AND NOT is_system_principal)
      )
