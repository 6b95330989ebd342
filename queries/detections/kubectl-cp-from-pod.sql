-- id: kubectl-cp-from-pod
-- title: Files copied out of a pod (kubectl cp)
-- severity: Warning
-- mitre: T1609, T1005
-- tags: collection, exfiltration, exec, kubectl-cp
-- behaviours: 28
-- equivalents: Kubernetes.Kubectl.CP.Operation
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace, object_name, command
-- suppress: 10m
-- output: {user_name} copied {source_path} out of pod {object_namespace}/{object_name} (container {container}) from {source_ip}: {command}
-- description: An exec session ran `tar c…f -`, which streams an archive of files from the
--   container to the caller: this is what `kubectl cp POD:PATH LOCAL` does. Copying files out
--   of a running workload collects its data, configuration and mounted credentials in one
--   step. Check which paths were taken and whether the person had reason to take them.
--   Platform identities working in system namespaces are not reported; copies into a pod
--   have their own rule.

WITH sessions AS (
  SELECT *
  FROM exec_sessions
  WHERE NOT (
        (    (COALESCE(user_name, '') LIKE 'system:%'
              AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:%')
          OR COALESCE(user_name, '') LIKE 'system:serviceaccount:kube-system:%'
          OR COALESCE(user_name, '') LIKE 'eks:%'
          OR COALESCE(user_name, '') = 'aksService')
        AND in_list(COALESCE(object_namespace, ''), 'system_namespaces'))
)
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       object_namespace,
       object_name,
       container,
       -- what follows "-": the paths (and -C directory) being archived
       regexp_match(command, '^\S*tar\s+\S+\s+-\s+(.*)$')[1] AS source_path,
       command
FROM sessions
-- the program is tar, its first argument is a create flag group ending in f (cf, -cf, czf,
-- -czvf), and the archive file is "-" (standard output, streamed back to the caller)
WHERE command ~ '^(\S*/)?tar\s+-?[a-zA-Z]*c[a-zA-Z]*f\s+-(\s|$)'
