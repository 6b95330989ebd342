-- id: offensive-tool-user-agent
-- title: Request from an offensive tool or scanner
-- severity: Warning
-- mitre: T1595, T1613, T1046
-- tags: discovery, reconnaissance, tools
-- behaviours: 9
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, source_ip, user_agent
-- suppress: 1h
-- output: {caller} used {user_agent} from {source_ip}: {verb} {request_uri} answered {response_code}
-- description: The client identified itself as a Kubernetes attack or enumeration tool
--   (kube-hunter, peirates, rakkess access matrix, kubeletctl, AzureHound, TruffleHog...) or
--   an internet scanner (nuclei, zgrab, masscan, nmap). Penetration tests aside, nobody
--   runs these against a production API server; check whether a test is scheduled, and what
--   the identity was allowed to do.

-- The list offensive_tool_user_agents holds LIKE patterns over the lower-cased user agent.
SELECT
       e.cluster,
       e.audit_id,
       e.stage_at AS time,
       COALESCE(NULLIF(e.user_name, ''), '(credentials rejected)') AS caller,
       e.user_name,
       e.source_ip,
       e.user_agent,
       e.verb,
       e.request_uri,
       e.object_resource,
       e.object_namespace,
       e.response_code,
       e.authz_decision
FROM events e
WHERE COALESCE(e.stage, 'ResponseComplete') = 'ResponseComplete'
  AND like_any(lower(e.user_agent), 'offensive_tool_user_agents')
