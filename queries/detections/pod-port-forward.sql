-- id: pod-port-forward
-- title: Port-forward to a pod
-- severity: Notice
-- mitre: T1572
-- tags: lateral-movement, port-forward, tunnel
-- behaviours: 29
-- equivalents: port-forward
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace, object_name
-- suppress: 30m
-- output: {user_name} port-forwarded to pod {object_namespace}/{object_name} (ports {ports}) from {source_ip} with {user_agent}
-- description: Someone opened a port-forward tunnel to a pod through the API server
--   (`kubectl port-forward`). The tunnel reaches the pod's ports directly from the caller's
--   machine, past Services, Ingress, network policies and any authentication in front of them;
--   databases, admin consoles and metrics endpoints become reachable from a laptop or from
--   wherever the credential was stolen to. Confirm who opened it and which ports.

-- The tunnel is an upgraded stream: logged at ResponseStarted (code 101) and again at
-- ResponseComplete when it closes; only ResponseStarted is used. SPDY clients (POST, verb
-- create) send the ports in stream headers, WebSocket clients (verb get) in ?ports=.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       object_namespace,
       object_name,
       COALESCE(NULLIF(array_to_string(url_query_values(request_uri, 'ports'), ','), ''),
                'not logged') AS ports
FROM events
WHERE object_resource = 'pods'
  AND object_subresource = 'portforward'
  AND COALESCE(verb, 'create') IN ('create', 'get')
  AND COALESCE(stage, 'ResponseStarted') = 'ResponseStarted'
  AND COALESCE(response_code, 101) < 400
  AND COALESCE(authz_decision, 'allow') = 'allow'
  AND NOT in_list(COALESCE(user_name, ''), 'known_controllers')
