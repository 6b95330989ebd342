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

-- Sessions are logged at ResponseStarted (code 101) and again at ResponseComplete; only the
-- first is used so one session gives one alert.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       object_namespace,
       object_name,
       COALESCE(url_query_values(request_uri, 'container')[1],
                json_value(request_object, '$.container')) AS container,
       array_to_string(
         CASE WHEN cardinality(url_query_values(request_uri, 'command')) > 0
              THEN url_query_values(request_uri, 'command')
              ELSE json_values(request_object, '$.command[*]')
         END, ' ') AS command
FROM events
WHERE object_resource = 'pods'
  AND object_subresource = 'exec'
  AND object_namespace = 'kube-system'
  AND COALESCE(verb, 'create') IN ('create', 'get')
  AND COALESCE(stage, 'ResponseStarted') = 'ResponseStarted'
  AND COALESCE(response_code, 101) < 400
  AND COALESCE(authz_decision, 'allow') = 'allow'
  AND COALESCE(user_name, '') NOT IN (SELECT value FROM known_controllers)
