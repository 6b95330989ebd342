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
WITH settings AS (
  SELECT *,
         -- a container's securityContext overrides the pod's
         COALESCE(json_get_int(container, 'securityContext', 'runAsUser'),
                  json_get_int(pod_spec, 'securityContext', 'runAsUser')) AS run_as_user,
         COALESCE(json_get_bool(container, 'securityContext', 'runAsNonRoot'),
                  json_get_bool(pod_spec, 'securityContext', 'runAsNonRoot')) AS run_as_non_root,
         json_get_bool(container, 'securityContext', 'allowPrivilegeEscalation')
           AS allow_privilege_escalation
  FROM untrusted_pod_containers
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
)
SELECT cluster, audit_id, min(stage_at) AS time, user_name, source_ip, verb,
       object_resource, object_namespace, object_name, owner,
       array_to_string(array_sort(array_agg(DISTINCT reason)), ', ') AS reasons,
       array_to_string(array_sort(array_agg(DISTINCT container_name)), ', ') AS containers,
       array_to_string(array_sort(array_agg(DISTINCT image)), ', ') AS images
FROM flagged
GROUP BY cluster, audit_id, user_name, source_ip, verb, object_resource, object_namespace,
         object_name, owner
