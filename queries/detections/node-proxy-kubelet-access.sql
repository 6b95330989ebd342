-- id: node-proxy-kubelet-access
-- title: Kubelet API reached through the API server node proxy
-- severity: Warning
-- mitre: T1609, T1613
-- tags: execution, discovery, kubelet, nodes-proxy
-- behaviours: 31
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_name, kubelet_path
-- suppress: 30m
-- output: {user_name} called kubelet path /{kubelet_path} on node {object_name} through nodes/proxy ({verb}, {response_code}) from {source_ip} with {user_agent}
-- description: A request went through the API server's nodes/proxy subresource to a kubelet
--   endpoint other than metrics, stats, health or config: /exec, /run, /attach and /portForward
--   run commands in any container on that node, /pods and /runningpods list everything the
--   node runs, /logs reads node log files, /checkpoint dumps a container. The kubelet enforces
--   no further authorisation on these calls, so nodes/proxy access equals exec on every pod of
--   the node, and the pod exec rules never see it. Confirm the caller and the path.

-- nodes/proxy is a long-running request: logged at ResponseStarted and again at
-- ResponseComplete. ResponseStarted is used so a streaming /exec alerts once, at once.
WITH proxied AS (
  SELECT *,
         -- the kubelet path after .../nodes/NAME/proxy/, without the query
         regexp_match(request_uri, '/proxy/([^?]*)')[1] AS kubelet_path
  FROM events
  WHERE object_resource = 'nodes'
    AND object_subresource = 'proxy'
    AND COALESCE(stage, 'ResponseStarted') = 'ResponseStarted'
    AND COALESCE(response_code, 200) < 400
    AND COALESCE(authz_decision, 'allow') = 'allow'
)
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       object_name,
       response_code,
       kubelet_path,
       request_uri
FROM proxied
-- monitoring paths that scrapers read through the proxy all day
WHERE COALESCE(kubelet_path, '') !~ '^(metrics|stats|healthz|configz|spec)(/|$)'
  AND NOT in_list(COALESCE(user_name, ''), 'known_controllers')
  -- the API server and controllers themselves
  AND NOT (COALESCE(user_name, '') LIKE 'system:%'
           AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:%'
           AND COALESCE(user_name, '') NOT LIKE 'system:node:%'
           AND COALESCE(user_name, '') <> 'system:anonymous')
