-- id: service-account-token-used-by-new-tool
-- title: Service-account token used by kubectl, curl or another generic tool for the first time
-- severity: Notice
-- mitre: T1528, T1550.001
-- tags: baseline, credential-access, lateral-movement
-- behaviours: 103
-- level: Metadata
-- mode: sequence
-- window: 30d
-- filter: user_name LIKE 'system:serviceaccount:%'
--   AND starts_with_any(user_agent, 'tool_user_agents')
-- compact: cluster, user_name, user_agent
-- dedup: cluster, user_name, tool
-- suppress: 24h
-- output: {user_name} used with {tool} for the first time in 30 days: {verb} {object_resource} {target} from {source_ip} (pod {pod_name}, user agent {user_agent}, {response_code})
-- description: A service account's token made a request with the user agent of an interactive
--   or generic HTTP tool (kubectl, curl, python-requests, a browser, kube-hunter ...; list
--   tool_user_agents) and that service account had not used that tool in the last 30 days.
--   Workloads talk to the API through their own client; a service-account token showing up in
--   kubectl or curl usually means someone took it out of a pod (or execs into the pod and drives
--   the API by hand). CI jobs that deploy with kubectl are reported once, on their first run, and
--   then learnt; nothing is reported during the first 7 days (learning period). The pod the
--   token was issued to is shown when the API server records it.
WITH uses AS (
  SELECT cluster,
         audit_id,
         COALESCE(stage_at, request_received_at) AS t,
         user_name,
         source_ip,
         user_agent,
         -- the product part of the user agent: kubectl/v1.31.2 (linux/amd64) ... -> kubectl
         split_part(split_part(user_agent, ' ', 1), '/', 1) AS tool,
         verb,
         object_resource,
         object_namespace,
         object_name,
         response_code,
         CASE
           WHEN COALESCE(object_name, '') <> '' THEN COALESCE(object_namespace || '/', '') || object_name
           ELSE COALESCE('namespace ' || object_namespace, 'cluster-wide')
         END AS target,
         user_extra['authentication.kubernetes.io/pod-name'][1] AS pod_name
  FROM new_events
),
history AS (
  SELECT cluster, min(COALESCE(stage_at, request_received_at)) AS since
  FROM events
  GROUP BY cluster
),
first_seen AS (
  -- each identity's first use of each tool in the window: one pass over the window
  SELECT cluster, user_name, split_part(split_part(user_agent, ' ', 1), '/', 1) AS tool,
         min(COALESCE(stage_at, request_received_at)) AS first_at
  FROM events
  GROUP BY cluster, user_name, split_part(split_part(user_agent, ' ', 1), '/', 1)
),
firsts AS (
  SELECT u.*,
         row_number() OVER (PARTITION BY u.cluster, u.user_name, u.tool ORDER BY u.t, u.audit_id) AS rn
  FROM uses u
  LEFT JOIN first_seen o
    ON o.cluster = u.cluster
   AND o.user_name = u.user_name
   AND o.tool = u.tool
  -- no earlier use of this tool by this identity in the window
  WHERE o.first_at IS NULL OR u.t <= o.first_at
)
SELECT f.cluster,
       f.audit_id,
       f.t AS time,
       f.user_name,
       f.source_ip,
       f.user_agent,
       f.tool,
       f.verb,
       f.object_resource,
       f.object_namespace,
       f.object_name,
       f.response_code,
       f.target,
       COALESCE(f.pod_name, 'unknown') AS pod_name
FROM firsts f
JOIN history h
  ON h.cluster = f.cluster
WHERE f.rn = 1
  -- learning period: nothing is reported before the window holds 7 days of tool use
  AND h.since <= f.t - INTERVAL '7 days'
