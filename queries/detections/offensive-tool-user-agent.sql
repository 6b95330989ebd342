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
-- Several patterns may match one request; DISTINCT keeps one row per event.
SELECT DISTINCT
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
-- The list comes first: each pattern is then matched against the whole batch at once.
FROM offensive_tool_user_agents t
JOIN (SELECT *, lower(user_agent) AS user_agent_lower
      FROM events
      WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete') e
  ON e.user_agent_lower LIKE t.value
