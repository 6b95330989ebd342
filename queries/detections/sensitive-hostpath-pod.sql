-- id: sensitive-hostpath-pod
-- title: Sensitive host path mounted into a container
-- severity: Warning
-- mitre: T1610, T1611
-- tags: privilege-escalation, pod-security, workload
-- behaviours: 37
-- equivalents: Create Sensitive Mount Pod
-- level: Request
-- mode: event
-- dedup: cluster, user_name, object_namespace, host_paths, images
-- suppress: 1h
-- output: {user_name} wrote {object_resource} {object_namespace}/{object_name} mounting host path(s) {host_paths} into container(s) {containers} (images {images}) from {source_ip}
-- description: A pod, or the pod template of a workload, mounts a hostPath volume at, below or
--   above a path in `sensitive_host_paths`: the node's root, /etc, /proc, /root, the kubelet's and
--   Kubernetes' credentials (/var/lib/kubelet, /etc/kubernetes), or the container runtime socket.
--   Any of these hands the container the node: read every pod's secrets, start privileged
--   containers through the runtime socket, or write static pod manifests. Paths are compared
--   without trailing slashes, and mounting a parent directory (/var) counts as mounting the
--   sensitive path inside it. Paths in `allowed_host_paths` (/etc/localtime, CA bundles, container
--   log directories) are not reported. Only containers that mount the volume are considered.
--   Control-plane and kube-system identities placing pods in system namespaces are left out, and so
--   are images in `trusted_images` (CNI, storage or monitoring node agents).
WITH sensitive AS (
  -- a mount under several sensitive paths comes out once each: min() and DISTINCT below
  -- count it once
  SELECT m.*
  FROM untrusted_host_path_mounts m
  JOIN sensitive_host_paths s
    ON m.path = s.value
       -- below a sensitive path: /etc/kubernetes/pki/ca.key
    OR (s.value <> '/' AND starts_with(m.path, s.value || '/'))
       -- above one: mounting /var exposes /var/lib/kubelet and /var/run/docker.sock
    OR (m.path <> '/' AND starts_with(s.value, m.path || '/'))
),
exceptions AS (
  SELECT COALESCE(NULLIF(regexp_replace(value, '/+$', ''), ''), '/') AS path
  FROM allowed_host_paths
),
notable AS (
  -- harmless paths inside sensitive directories: /etc/localtime, /var/lib/docker/containers
  SELECT x.*
  FROM sensitive x
  LEFT JOIN exceptions a
    ON x.path = a.path
    OR (a.path <> '/' AND starts_with(x.path, a.path || '/'))
  WHERE a.path IS NULL
)
SELECT cluster, audit_id, min(stage_at) AS time, user_name, source_ip, verb,
       object_resource, object_namespace, object_name, owner,
       array_to_string(array_sort(array_agg(DISTINCT host_path)), ', ') AS host_paths,
       array_to_string(array_sort(array_agg(DISTINCT container_name)), ', ') AS containers,
       array_to_string(array_sort(array_agg(DISTINCT image)), ', ') AS images
FROM notable
GROUP BY cluster, audit_id, user_name, source_ip, verb, object_resource, object_namespace,
         object_name, owner
