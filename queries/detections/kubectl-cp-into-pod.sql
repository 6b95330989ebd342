-- id: kubectl-cp-into-pod
-- title: Files copied into a pod (kubectl cp)
-- severity: Notice
-- mitre: T1609, T1105
-- tags: execution, ingress-tool-transfer, exec, kubectl-cp
-- behaviours: 28
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace, object_name, command
-- suppress: 10m
-- output: {user_name} copied files into pod {object_namespace}/{object_name} (container {container}) from {source_ip}: {command}
-- description: An exec session ran `tar x…f -`, which unpacks an archive sent by the caller
--   inside the container: this is what `kubectl cp LOCAL POD:PATH` does. It changes a running
--   workload outside its image and deployment pipeline and is a simple way to drop tools or
--   replace files. Check what was copied and to which path.

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
WHERE NOT in_list(COALESCE(user_name, ''), 'known_controllers')
  -- the program is tar, its first argument is an extract flag group ending in f (xf, -xmf),
  -- and the archive file is "-" (standard input, streamed from the caller)
  AND command ~ '^(\S*/)?tar\s+-?[a-zA-Z]*x[a-zA-Z]*f\s+-(\s|$)'
