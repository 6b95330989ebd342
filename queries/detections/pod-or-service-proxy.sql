-- id: pod-or-service-proxy
-- title: Pod or service reached through the API server proxy
-- severity: Notice
-- mitre: T1090, T1133
-- tags: lateral-movement, proxy
-- behaviours: 32
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_resource, object_namespace, object_name
-- suppress: 30m
-- output: {user_name} reached {object_resource} {object_namespace}/{object_name} through the API server proxy ({verb} {request_uri}) from {source_ip} with {user_agent}
-- description: A request went through the API server's pods/proxy or services/proxy
--   subresource to an application inside the cluster (`kubectl proxy` and browsing to
--   /api/v1/namespaces/NS/services/NAME/proxy/). The API server forwards it from inside the
--   cluster network, so internal dashboards, databases' HTTP ports and admin endpoints become
--   reachable to anyone with that permission, past Ingress and network policies. Check the
--   caller and the target.

-- The proxy subresource is long-running: logged at ResponseStarted and again at
-- ResponseComplete; ResponseStarted is used so each request alerts once.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       object_resource,
       object_namespace,
       object_name,
       request_uri
FROM events
WHERE object_resource IN ('pods', 'services')
  AND object_subresource = 'proxy'
  AND COALESCE(stage, 'ResponseStarted') = 'ResponseStarted'
  AND COALESCE(response_code, 200) < 400
  AND COALESCE(authz_decision, 'allow') = 'allow'
  AND NOT in_list(COALESCE(user_name, ''), 'known_controllers')
  -- control-plane and node identities, and kube-system service accounts (metrics-server,
  -- dashboards and the API server's own aggregation)
  AND NOT ((COALESCE(user_name, '') LIKE 'system:%'
            AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:%'
            AND COALESCE(user_name, '') <> 'system:anonymous')
           OR COALESCE(user_name, '') LIKE 'system:serviceaccount:kube-system:%')
