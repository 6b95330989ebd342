-- id: privileged-pod-created
-- title: Privileged container created
-- severity: Warning
-- mitre: T1610, T1611
-- tags: privilege-escalation, pod-security, workload
-- behaviours: 34
-- equivalents: Create Privileged Pod | Kubernetes.Pod.Privileged.Created
-- level: Request
-- mode: event
-- dedup: cluster, user_name, object_namespace, images
-- suppress: 1h
-- output: {user_name} wrote {object_resource} {object_namespace}/{object_name} with privileged container(s) {containers} (images {images}) from {source_ip}
-- description: A pod, or the pod template of a workload, runs a container with
--   securityContext.privileged=true (containers, init containers or ephemeral debug containers). A
--   privileged container has every capability and all host devices: it can mount the node's disk,
--   load kernel modules and escape to the node, and from there reach every pod and secret on it.
--   The pods that controllers create from a workload are checked as well, so a privileged
--   Deployment raises one alert naming the person who wrote it and one for its pods. Control-plane
--   and kube-system identities placing pods in system namespaces are left out, and so are images in
--   `trusted_images` (CNI, storage or monitoring node agents).
SELECT cluster, audit_id, min(stage_at) AS time, user_name, source_ip, verb,
       object_resource, object_namespace, object_name, owner,
       array_to_string(array_sort(array_agg(DISTINCT container_name)), ', ') AS containers,
       array_to_string(array_sort(array_agg(DISTINCT image)), ', ') AS images
FROM untrusted_pod_containers
WHERE json_get_bool(container, 'securityContext', 'privileged') = true
GROUP BY cluster, audit_id, user_name, source_ip, verb, object_resource, object_namespace,
         object_name, owner
