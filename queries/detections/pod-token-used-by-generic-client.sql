-- id: pod-token-used-by-generic-client
-- title: Pod service-account token used by a generic HTTP client or kubectl
-- severity: Notice
-- mitre: T1550.001, T1613
-- tags: credential-access, discovery, service-account, user-agent
-- behaviours: 33
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, user_agent, pod_name
-- suppress: 1h
-- output: {user_name} (token of pod {pod_name}) called the API with {user_agent}: {verb} {request_uri} ({response_code}) from {source_ip}
-- description: A service-account token bound to a pod was used by curl, wget, python-requests,
--   Go's default HTTP client, kubectl, a browser or a known attack tool, rather than by the
--   client library the workload is built with. This is what someone with a shell in the pod
--   (or a copy of its token) does to explore the API. Workloads that legitimately run kubectl
--   or scripts (CI runners, job containers) are listed in known_controllers. The user-agent
--   prefixes are in the tool_user_agents list.

-- Bound (projected) tokens carry the pod in user.extra; legacy Secret-based tokens do not,
-- and are left to rules about tokens used from outside the cluster.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       user_extra['authentication.kubernetes.io/pod-name'][1] AS pod_name,
       source_ip,
       user_agent,
       verb,
       request_uri,
       object_resource,
       object_namespace,
       response_code
FROM events
WHERE user_name LIKE 'system:serviceaccount:%'
  AND cardinality(user_extra['authentication.kubernetes.io/pod-name']) > 0
  AND starts_with_any(user_agent, 'tool_user_agents')
  AND NOT in_list(COALESCE(user_name, ''), 'known_controllers')
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
