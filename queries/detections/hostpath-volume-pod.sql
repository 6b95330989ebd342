-- id: hostpath-volume-pod
-- title: Host path mounted into a container
-- severity: Notice
-- mitre: T1610, T1611
-- tags: privilege-escalation, pod-security, workload
-- behaviours: 37
-- equivalents: Kubernetes.Pod.HostPath.Volume
-- level: Request
-- mode: event
-- dedup: cluster, user_name, object_namespace, host_paths, images
-- suppress: 1h
-- output: {user_name} wrote {object_resource} {object_namespace}/{object_name} mounting host path(s) {host_paths} into container(s) {containers} (images {images}) from {source_ip}
-- description: A pod, or the pod template of a workload, mounts a directory or file of the node
--   through a hostPath volume. Any hostPath breaks the container's isolation from the node (a
--   writable one lets a container plant files that the node or other pods will use); the Warning
--   rule sensitive-hostpath-pod covers the paths that are a direct node compromise. Only containers
--   that mount the volume are considered. Control-plane and kube-system identities placing pods in
--   system namespaces are left out, and so are images in `trusted_images` (CNI, storage or
--   monitoring node agents).
SELECT cluster, audit_id, min(stage_at) AS time, user_name, source_ip, verb,
       object_resource, object_namespace, object_name, owner,
       array_to_string(array_sort(array_agg(DISTINCT host_path)), ', ') AS host_paths,
       array_to_string(array_sort(array_agg(DISTINCT container_name)), ', ') AS containers,
       array_to_string(array_sort(array_agg(DISTINCT image)), ', ') AS images
FROM untrusted_host_path_mounts
GROUP BY cluster, audit_id, user_name, source_ip, verb, object_resource, object_namespace,
         object_name, owner
