-- id: exec-into-kube-system-pod
-- title: Exec into a kube-system pod
-- severity: Warning
-- mitre: T1609
-- tags: execution, exec, kube-system
-- behaviours: 22
-- equivalents: Execution:Kubernetes/ExecInKubeSystemPod
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_name
-- suppress: 10m
-- output: {user_name} ran {command} in kube-system pod {object_name} (container {container}) from {source_ip}
-- description: Someone opened an exec session in a pod of the kube-system namespace. Pods there
--   (DNS, CNI agents, kube-proxy, cloud controllers) run with the cluster's most powerful service
--   accounts and often with host access; a shell in one is a short step to cluster or node
--   takeover. It is rarely routine: confirm the person and the reason.

SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       object_namespace,
       object_name,
       container,
       command
FROM exec_sessions
WHERE object_namespace = 'kube-system'
  AND NOT in_list(COALESCE(user_name, ''), 'known_controllers')
