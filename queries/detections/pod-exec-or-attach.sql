-- id: pod-exec-or-attach
-- title: Exec or attach into a pod
-- severity: Notice
-- mitre: T1609
-- tags: execution, exec, attach
-- behaviours: 20, 21
-- equivalents: Attach/Exec Pod | Kubernetes.Pod.Exec
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace, object_name, object_subresource, command
-- suppress: 10m
-- output: {user_name} opened {object_subresource} into pod {object_namespace}/{object_name} (container {container}): {command} from {source_ip} with {user_agent}
-- description: Someone opened an interactive session into a running container: `exec` runs a
--   new process in it, `attach` connects to the terminal of its main process. Either gives the
--   caller the container's files, network position and service-account token. Routine for
--   operators debugging, but it is also how an intruder with API access moves into workloads;
--   review who did it, where, and what they ran.

-- The session is upgraded to a stream, so kube-apiserver logs it at stage ResponseStarted
-- (code 101) and again at ResponseComplete when it closes: only ResponseStarted is used, so
-- one session gives one alert. A denied session has a 4xx code at both stages.
-- GKE and AKS exports may carry the command in requestObject.command instead of the URI.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       user_groups,
       source_ip,
       user_agent,
       verb,
       object_namespace,
       object_name,
       object_subresource,
       COALESCE(url_query_values(request_uri, 'container')[1],
                json_value(request_object, '$.container')) AS container,
       -- attach runs nothing new: it joins the container's main process
       CASE WHEN object_subresource = 'attach' THEN '(main process)'
            ELSE array_to_string(
                   CASE WHEN cardinality(url_query_values(request_uri, 'command')) > 0
                        THEN url_query_values(request_uri, 'command')
                        ELSE json_values(request_object, '$.command[*]')
                   END, ' ')
       END AS command
FROM events
WHERE object_resource = 'pods'
  AND object_subresource IN ('exec', 'attach')
  -- POST (SPDY) sessions log verb create, WebSocket sessions verb get
  AND COALESCE(verb, 'create') IN ('create', 'get')
  AND COALESCE(stage, 'ResponseStarted') = 'ResponseStarted'
  AND COALESCE(response_code, 101) < 400
  AND COALESCE(authz_decision, 'allow') = 'allow'
  AND NOT in_list(COALESCE(user_name, ''), 'known_controllers')
