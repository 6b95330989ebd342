-- id: container-dangerous-capabilities
-- title: Container granted dangerous Linux capabilities
-- severity: Warning
-- mitre: T1610, T1611
-- tags: privilege-escalation, pod-security, workload
-- behaviours: 35
-- equivalents: Kubernetes.Pod.Dangerous.Capabilities
-- level: Request
-- mode: event
-- dedup: cluster, user_name, object_namespace, capabilities, images
-- suppress: 1h
-- output: {user_name} wrote {object_resource} {object_namespace}/{object_name} adding capabilities {capabilities} to container(s) {containers} (images {images}) from {source_ip}
-- description: A pod, or the pod template of a workload, adds a Linux capability listed in
--   `dangerous_capabilities` (SYS_ADMIN, SYS_MODULE, SYS_PTRACE, BPF, NET_ADMIN, DAC_* ...) through
--   securityContext.capabilities.add. These capabilities let a container mount filesystems, load
--   kernel modules, trace host processes or bypass file permissions: most container escapes start
--   from one of them. Pods created by controllers are checked as well as the workloads people
--   write. Control-plane and kube-system identities placing pods in system namespaces are left out,
--   and so are images in `trusted_images` (CNI, storage or monitoring node agents).
WITH added AS (
  SELECT a.*,
         -- `CAP_SYS_ADMIN` and `sys_admin` are the same capability as `SYS_ADMIN`
         regexp_replace(upper(added_capability), '^CAP_', '') AS capability
  FROM (SELECT c.*,
               unnest(json_values(container, '$.securityContext.capabilities.add[*]'))
                 AS added_capability
        FROM untrusted_pod_containers c) a
)
SELECT a.cluster, a.audit_id, min(a.stage_at) AS time, a.user_name, a.source_ip, a.verb,
       a.object_resource, a.object_namespace, a.object_name, a.owner,
       array_to_string(array_sort(array_agg(DISTINCT a.capability)), ', ') AS capabilities,
       array_to_string(array_sort(array_agg(DISTINCT a.container_name)), ', ') AS containers,
       array_to_string(array_sort(array_agg(DISTINCT a.image)), ', ') AS images
FROM added a
JOIN dangerous_capabilities d ON d.value = a.capability
GROUP BY a.cluster, a.audit_id, a.user_name, a.source_ip, a.verb, a.object_resource,
         a.object_namespace, a.object_name, a.owner
