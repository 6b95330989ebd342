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
SELECT cluster, audit_id, min(stage_at) AS time, user_name, source_ip, verb,
       object_resource, object_namespace, object_name, owner,
       array_to_string(array_sort(array_agg(DISTINCT container_name)), ', ') AS containers,
       array_to_string(array_sort(array_agg(DISTINCT image)), ', ') AS images
FROM untrusted_pod_containers
WHERE json_get_bool(pod_spec, 'hostPID') = true
GROUP BY cluster, audit_id, user_name, source_ip, verb, object_resource, object_namespace,
         object_name, owner
