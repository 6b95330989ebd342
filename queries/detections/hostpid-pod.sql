-- id: hostpid-pod
-- title: Pod uses the node's process namespace
-- severity: Warning
-- mitre: T1610, T1611
-- tags: privilege-escalation, pod-security, workload
-- behaviours: 39
-- equivalents: Create HostPid Pod | Kubernetes.Pod.Host.PID
-- level: Request
-- mode: event
-- dedup: cluster, user_name, object_namespace, images
-- suppress: 1h
-- output: {user_name} wrote {object_resource} {object_namespace}/{object_name} with hostPID=true (images {images}) from {source_ip}
-- description: A pod, or the pod template of a workload, shares the node's process namespace
--   (hostPID=true): it sees every process on the node, can read their environment and command lines
--   (credentials), and with enough privileges signal, trace or enter them (nsenter into PID 1 is a
--   classic escape). Pods created by controllers are checked as well as the workloads people write.
--   Control-plane and kube-system identities placing pods in system namespaces are left out, and so
--   are pods whose every image is in `trusted_images` (CNI, kube-proxy, node exporters).
WITH writes AS (
  SELECT cluster, audit_id, stage_at, user_name, source_ip, verb,
         object_resource, object_namespace,
         COALESCE(object_name,
                  json_value(response_object, '$.metadata.name'),
                  json_value(request_object, '$.metadata.generateName')) AS object_name,
         json_value(request_object, '$.metadata.ownerReferences[0].name') AS owner,
         -- the pod spec: in the pod itself, or in the workload's pod template
         CASE object_resource
           WHEN 'pods' THEN json_value(request_object, '$.spec')
           WHEN 'cronjobs' THEN json_value(request_object, '$.spec.jobTemplate.spec.template.spec')
           ELSE json_value(request_object, '$.spec.template.spec')
         END AS pod_spec,
         -- control plane, nodes, kube-system service accounts, managed-cloud operators
         COALESCE(
              (user_name LIKE 'system:%' AND user_name NOT LIKE 'system:serviceaccount:%'
               AND user_name <> 'system:anonymous')
           OR user_name LIKE 'system:serviceaccount:kube-system:%'
           OR user_name LIKE 'eks:%'
           OR user_name IN ('aksService', 'masterclient')
           OR kc.value IS NOT NULL,
           false) AS system_principal
  FROM events e
  LEFT JOIN known_controllers kc ON kc.value = e.user_name
  WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
    AND response_code BETWEEN 200 AND 299
    AND (
          -- a new pod, whoever creates it (controllers included)
          (object_resource = 'pods' AND object_subresource IS NULL AND verb = 'create')
          -- ephemeral debug containers added to a running pod
       OR (object_resource = 'pods' AND object_subresource = 'ephemeralcontainers'
           AND verb IN ('update', 'patch'))
          -- a workload's pod template; the pods its controller then creates are checked above
       OR (object_resource IN ('deployments', 'daemonsets', 'statefulsets', 'replicasets',
                               'jobs', 'cronjobs')
           AND object_subresource IS NULL
           AND verb IN ('create', 'update', 'patch'))
    )
),
candidates AS (
  SELECT *
  FROM writes
  WHERE NOT (system_principal
             AND COALESCE(object_namespace, '') IN (SELECT value FROM system_namespaces))
    -- workloads written by controllers (a ReplicaSet from a Deployment, a Job from a CronJob)
    -- repeat a template that was checked when a person wrote it
    AND NOT (object_resource <> 'pods' AND system_principal)
),
containers AS (
  SELECT cluster, audit_id, stage_at, user_name, source_ip, verb, object_resource,
         object_namespace, object_name, owner, pod_spec,
         unnest(json_values(pod_spec, '$["containers","initContainers","ephemeralContainers"][*]'))
           AS container
  FROM candidates
),
images AS (
  SELECT c.*,
         json_get_str(container, 'name') AS container_name,
         json_get_str(container, 'image') AS image,
         -- Docker Hub names compare without `docker.io/` and `library/` (nginx = docker.io/library/nginx)
         regexp_replace(image_repository(json_get_str(container, 'image')),
                        '^((index\.|registry-1\.)?docker\.io/)?(library/)?', '') AS repository
  FROM containers c
),
trusted AS (
  -- trusted_images, with Docker Hub names shortened the same way
  SELECT DISTINCT regexp_replace(image_repository(value),
                                 '^((index\.|registry-1\.)?docker\.io/)?(library/)?', '') AS repository
  FROM trusted_images
),
host_namespace AS (
  SELECT i.*
  FROM images i
  WHERE json_get_bool(pod_spec, 'hostPID') = true
),
untrusted AS (
  SELECT h.*
  FROM host_namespace h
  -- images in trusted_images are allowed
  LEFT JOIN trusted t ON t.repository = h.repository
  WHERE t.repository IS NULL
)
SELECT cluster, audit_id, min(stage_at) AS time, user_name, source_ip, verb,
       object_resource, object_namespace, object_name, owner,
       array_to_string(array_sort(array_agg(DISTINCT container_name)), ', ') AS containers,
       array_to_string(array_sort(array_agg(DISTINCT image)), ', ') AS images
FROM untrusted
GROUP BY cluster, audit_id, user_name, source_ip, verb, object_resource, object_namespace,
         object_name, owner
