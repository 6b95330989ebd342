-- One row per request, allowed or refused, that writes a pod spec: a new pod, ephemeral debug
-- containers added to a running pod, or a workload (Deployment, DaemonSet, StatefulSet,
-- ReplicaSet, Job, CronJob) created, updated or patched with its pod template. Of a request
-- logged at several stages, only the ResponseComplete event is kept (its answer is known).
--
-- Columns are the event's, and:
--   object_name          falls back on the name the API server gave (response body) or the
--                        requested generateName
--   owner                the first ownerReference (the ReplicaSet of a Deployment's pod, the
--                        Job of a CronJob's pod)
--   pod_spec             the pod spec as JSON text: the pod's spec, the workload's pod
--                        template spec, or a CronJob's job template's (of a patch, with
--                        duplicate members resolved as the API server does: the last counts)
--   is_system_principal  as in events_with_principal
--   in_system_namespace  the object is in one of `system_namespaces` (kube-system, ...)
--   is_routine_system_write
--                        the cluster's own routine, which the pod-security rules leave out:
--                        a system principal placing pods in a system namespace, or writing
--                        a workload anywhere. Workloads written by controllers (a ReplicaSet
--                        from a Deployment, a Job from a CronJob) repeat a template that was
--                        checked when a person wrote it.
-- Rules that only care about writes that succeeded read pod_spec_writes.
SELECT cluster, audit_id, stage_at, user_name, source_ip, user_agent, verb, response_code,
       object_resource, object_subresource, object_namespace,
       COALESCE(object_name,
                json_value(response_object, '$.metadata.name'),
                json_value(request_object, '$.metadata.generateName')) AS object_name,
       -- a body the API server decoded has no duplicate members: the first is the one
       CASE WHEN verb = 'patch'
            THEN json_value(request_object, '$.metadata.ownerReferences[0].name')
            ELSE json_get_str(request_object, 'metadata', 'ownerReferences', 0, 'name')
       END AS owner,
       CASE
         -- A patch is logged as it was sent, duplicate members and all: parsed, so that the
         -- last of duplicates counts, as when the API server applies it. Other writes are
         -- logged as the API server decoded them, and are taken as they are.
         WHEN verb = 'patch' THEN
           CASE object_resource
             WHEN 'pods' THEN json_value(request_object, '$.spec')
             WHEN 'cronjobs' THEN json_value(request_object, '$.spec.jobTemplate.spec.template.spec')
             ELSE json_value(request_object, '$.spec.template.spec')
           END
         ELSE
           CASE object_resource
             WHEN 'pods' THEN json_get_json(request_object, 'spec')
             WHEN 'cronjobs' THEN json_get_json(request_object, 'spec', 'jobTemplate', 'spec', 'template', 'spec')
             ELSE json_get_json(request_object, 'spec', 'template', 'spec')
           END
       END AS pod_spec,
       request_object,
       is_system_principal,
       COALESCE(in_list(object_namespace, 'system_namespaces'), false) AS in_system_namespace,
       is_system_principal
         AND (COALESCE(in_list(object_namespace, 'system_namespaces'), false)
              OR object_resource <> 'pods') AS is_routine_system_write
FROM events_with_principal
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND (
        -- a new pod, whoever creates it (controllers included)
        (object_resource = 'pods' AND object_subresource IS NULL AND verb = 'create')
        -- ephemeral debug containers added to a running pod
     OR (object_resource = 'pods' AND object_subresource = 'ephemeralcontainers'
         AND verb IN ('update', 'patch'))
        -- a workload's pod template; the pods its controller then creates are written too
     OR (object_resource IN ('deployments', 'daemonsets', 'statefulsets', 'replicasets',
                             'jobs', 'cronjobs')
         AND object_subresource IS NULL
         AND verb IN ('create', 'update', 'patch'))
  )
