-- One row per exec session opened in a pod's container and allowed (`kubectl exec`, `kubectl cp`,
-- `kubectl debug` sessions that run a command).
--
-- A session is upgraded to a stream, so kube-apiserver logs it at stage ResponseStarted (code
-- 101) and again at ResponseComplete when it closes: only ResponseStarted is kept, so one session
-- is one row. POST (SPDY) sessions log verb create, WebSocket sessions verb get. Refused
-- sessions (4xx, authorization `forbid`) are left out.
--   container  the container named in the URI (`?container=`), else in the request body
--   command    the command and its arguments joined by spaces: the URI's `command=` parameters
--              (kube-apiserver), else requestObject.command (GKE and AKS exports)
SELECT cluster,
       audit_id,
       stage_at,
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
  AND COALESCE(verb, 'create') IN ('create', 'get')
  AND COALESCE(stage, 'ResponseStarted') = 'ResponseStarted'
  AND COALESCE(response_code, 101) < 400
  AND COALESCE(authz_decision, 'allow') = 'allow'
