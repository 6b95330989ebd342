-- id: unexpected-image-in-system-namespace
-- title: Pod with an unexpected image created in a system namespace
-- severity: Notice
-- mitre: T1610, T1036.005
-- tags: persistence, defense-evasion, kube-system
-- behaviours: 41
-- equivalents: Pod Created in Kube Namespace
-- level: Request
-- mode: event
-- dedup: cluster, object_namespace, images
-- suppress: 24h
-- output: Pod {object_namespace}/{object_name} created by {user_name} runs image(s) {images} not usual in system namespaces (containers {containers}, owner {owner})
-- description: A pod was created in a system namespace (kube-system, kube-public, kube-node-lease)
--   with a container image that is neither in `system_namespace_images` (the cluster's own
--   components and add-ons) nor in `trusted_images`. Intruders hide workloads among the cluster's
--   components, where service accounts are powerful and few people look. Pods created by
--   controllers count, so a Deployment or DaemonSet placed in kube-system is seen when its pods
--   start. Add the add-on images your distribution runs (EKS, AKS and GKE use their own registries)
--   to `system_namespace_images`.
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
  -- every new pod in a system namespace, controllers' pods included: a Deployment an intruder
  -- writes to kube-system shows here as the replicaset-controller's pods
  SELECT *
  FROM writes
  WHERE object_resource = 'pods'
    AND verb = 'create'
    AND COALESCE(object_namespace, '') IN (SELECT value FROM system_namespaces)
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
usual AS (
  -- system_namespace_images, with Docker Hub names shortened the same way
  SELECT DISTINCT regexp_replace(image_repository(value),
                                 '^((index\.|registry-1\.)?docker\.io/)?(library/)?', '') AS repository
  FROM system_namespace_images
),
unexpected AS (
  SELECT i.*
  FROM images i
  LEFT JOIN usual u ON u.repository = i.repository
  LEFT JOIN trusted t ON t.repository = i.repository
  WHERE u.repository IS NULL
    AND t.repository IS NULL
)
SELECT cluster, audit_id, min(stage_at) AS time, user_name, source_ip, verb,
       object_resource, object_namespace, object_name, owner,
       array_to_string(array_sort(array_agg(DISTINCT container_name)), ', ') AS containers,
       array_to_string(array_sort(array_agg(DISTINCT image)), ', ') AS images
FROM unexpected
GROUP BY cluster, audit_id, user_name, source_ip, verb, object_resource, object_namespace,
         object_name, owner
