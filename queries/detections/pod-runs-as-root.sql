-- id: pod-runs-as-root
-- title: Container set to run as root or to escalate privileges
-- severity: Notice
-- mitre: T1610, T1611
-- tags: privilege-escalation, pod-security, workload
-- behaviours: 36
-- equivalents: Kubernetes.Pod.Privileged.Created
-- level: Request
-- mode: event
-- dedup: cluster, user_name, object_namespace, reasons, images
-- suppress: 1h
-- output: {user_name} wrote {object_resource} {object_namespace}/{object_name} whose container(s) {containers} are set to {reasons} (images {images}) from {source_ip}
-- description: A pod, or the pod template of a workload, explicitly asks for root or for privilege
--   escalation: runAsUser=0, runAsNonRoot=false, or allowPrivilegeEscalation=true (container
--   settings override the pod's). Root in a container is root on the node's kernel; with one more
--   weakness (a writable hostPath, a capability, a kernel bug) it becomes a node compromise, and
--   allowPrivilegeEscalation lets setuid binaries gain privileges. Images that merely default to
--   root are not flagged, only explicit settings. Control-plane and kube-system identities placing
--   pods in system namespaces are left out, and so are images in `trusted_images` (CNI, storage or
--   monitoring node agents).
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
settings AS (
  SELECT i.*,
         -- a container's securityContext overrides the pod's
         COALESCE(json_get_int(container, 'securityContext', 'runAsUser'),
                  json_get_int(pod_spec, 'securityContext', 'runAsUser')) AS run_as_user,
         COALESCE(json_get_bool(container, 'securityContext', 'runAsNonRoot'),
                  json_get_bool(pod_spec, 'securityContext', 'runAsNonRoot')) AS run_as_non_root,
         json_get_bool(container, 'securityContext', 'allowPrivilegeEscalation')
           AS allow_privilege_escalation
  FROM images i
),
flagged AS (
  SELECT s.*,
         concat_ws(', ',
                   CASE WHEN allow_privilege_escalation THEN 'allowPrivilegeEscalation=true' END,
                   CASE WHEN run_as_non_root = false THEN 'runAsNonRoot=false' END,
                   CASE WHEN run_as_user = 0 THEN 'runAsUser=0' END) AS reason
  FROM settings s
  WHERE run_as_user = 0
     OR run_as_non_root = false
     OR allow_privilege_escalation = true
),
untrusted AS (
  SELECT f.*
  FROM flagged f
  -- images in trusted_images are allowed
  LEFT JOIN trusted t ON t.repository = f.repository
  WHERE t.repository IS NULL
)
SELECT cluster, audit_id, min(stage_at) AS time, user_name, source_ip, verb,
       object_resource, object_namespace, object_name, owner,
       array_to_string(array_sort(array_agg(DISTINCT reason)), ', ') AS reasons,
       array_to_string(array_sort(array_agg(DISTINCT container_name)), ', ') AS containers,
       array_to_string(array_sort(array_agg(DISTINCT image)), ', ') AS images
FROM untrusted
GROUP BY cluster, audit_id, user_name, source_ip, verb, object_resource, object_namespace,
         object_name, owner
