-- id: disallowed-image-pod
-- title: Container image outside the allowed list
-- severity: Warning
-- mitre: T1610, T1204.003
-- tags: execution, supply-chain, workload
-- behaviours: 43
-- equivalents: Create Disallowed Pod
-- level: Request
-- mode: event
-- dedup: cluster, user_name, object_namespace, images
-- suppress: 1h
-- output: {user_name} wrote {object_resource} {object_namespace}/{object_name} with image(s) {images} outside allowed_images (containers {containers}) from {source_ip}
-- description: A pod, or the pod template of a workload, uses a container image whose repository is
--   not in `allowed_images`. Clusters that only run images from their own registries treat any
--   other image as an intrusion or a supply-chain bypass: a public tool image, a look-alike name, a
--   registry the build pipeline does not scan. Entries are repositories without tag
--   (`registry.example.com/shop/api`), or a prefix ending in `/` that allows a registry or project
--   (`registry.example.com/`); Docker Hub names compare without `docker.io/` and `library/`. The
--   rule is off while `allowed_images` is empty. Control-plane and kube-system identities placing
--   pods in system namespaces are left out.
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
allowed AS (
  -- allowed_images, with Docker Hub names shortened the same way
  SELECT DISTINCT regexp_replace(image_repository(value),
                                 '^((index\.|registry-1\.)?docker\.io/)?(library/)?', '') AS entry
  FROM allowed_images
),
disallowed AS (
  SELECT i.*
  FROM images i
  LEFT JOIN allowed a
    ON i.repository = a.entry
       -- an entry ending in `/` allows a whole registry or project: `registry.example.com/`
    OR (a.entry LIKE '%/' AND a.entry <> '/' AND starts_with(i.repository, a.entry))
  WHERE a.entry IS NULL
)
SELECT cluster, audit_id, min(stage_at) AS time, user_name, source_ip, verb,
       object_resource, object_namespace, object_name, owner,
       array_to_string(array_sort(array_agg(DISTINCT container_name)), ', ') AS containers,
       array_to_string(array_sort(array_agg(DISTINCT image)), ', ') AS images
FROM disallowed
-- an empty allowed_images list turns the rule off
WHERE EXISTS (SELECT 1 FROM allowed_images)
GROUP BY cluster, audit_id, user_name, source_ip, verb, object_resource, object_namespace,
         object_name, owner
