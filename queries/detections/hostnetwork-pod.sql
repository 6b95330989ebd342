-- id: hostnetwork-pod
-- title: Pod uses the node's network namespace
-- severity: Warning
-- mitre: T1610, T1611
-- tags: privilege-escalation, pod-security, workload
-- behaviours: 38
-- equivalents: Create HostNetwork Pod | Kubernetes.Pod.Host.Network
-- level: Request
-- mode: event
-- dedup: cluster, user_name, object_namespace, images
-- suppress: 1h
-- output: {user_name} wrote {object_resource} {object_namespace}/{object_name} with hostNetwork=true (images {images}) from {source_ip}
-- description: A pod, or the pod template of a workload, shares the node's network namespace
--   (hostNetwork=true): it can listen on and sniff the node's interfaces, reach services bound to
--   the node's localhost (kubelet, etcd on control-plane nodes) and the cloud metadata endpoint,
--   and its traffic escapes NetworkPolicies. Pods created by controllers are checked as well as the
--   workloads people write. Control-plane and kube-system identities placing pods in system
--   namespaces are left out, and so are pods whose every image is in `trusted_images` (CNI, kube-
--   proxy, node exporters).
SELECT cluster, audit_id, min(stage_at) AS time, user_name, source_ip, verb,
       object_resource, object_namespace, object_name, owner,
       array_to_string(array_sort(array_agg(DISTINCT container_name)), ', ') AS containers,
       array_to_string(array_sort(array_agg(DISTINCT image)), ', ') AS images
FROM untrusted_pod_containers
WHERE json_get_bool(pod_spec, 'hostNetwork') = true
GROUP BY cluster, audit_id, user_name, source_ip, verb, object_resource, object_namespace,
         object_name, owner
