-- id: forbidden-request-new-user-agent
-- title: Forbidden request from a user agent not seen in 7 days
-- severity: Informational
-- mitre: T1078, T1613
-- tags: discovery, baseline, authorization
-- behaviours: 10
-- level: Metadata
-- mode: sequence
-- window: 7d
-- filter: COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND authz_decision = 'forbid'
--   AND COALESCE(user_agent, '') NOT LIKE '%kubernetes/$Format%'
-- compact: cluster, user_agent
-- dedup: cluster, client
-- suppress: 1d
-- output: First forbidden request in 7 days from a {client} client: {user_name} {verb} {request_uri} from {source_ip} ({user_agent})
-- description: Authorization refused a request made with a client program (user agent,
--   versions ignored) that no refused request of the last seven days came from. Refusals
--   from the usual tools and controllers are background noise; a new client being refused
--   points at someone trying a credential with their own tooling.

-- A client is its user agent without version numbers and without the trailing
-- "kubernetes/<commit>" client-go adds, so upgrades do not look new. Nothing is reported
-- until the window holds a day of history (a fresh install or an empty store learns first).
WITH seen AS (
    SELECT cluster,
           stage_at,
           regexp_replace(split_part(COALESCE(user_agent, ''), ' kubernetes/', 1), '[0-9]+', 'N', 'g') AS client
    FROM events
),
fresh AS (
    SELECT cluster,
           audit_id,
           stage_at,
           user_name,
           source_ip,
           user_agent,
           verb,
           request_uri,
           object_resource,
           object_namespace,
           response_code,
           regexp_replace(split_part(COALESCE(user_agent, ''), ' kubernetes/', 1), '[0-9]+', 'N', 'g') AS client
    FROM new_events
),
-- the first time each key was seen in the window, and how far back the window goes: one pass
-- over the window, however many events share a key
first_seen AS (
    SELECT cluster, client, min(stage_at) AS first_at
    FROM seen
    GROUP BY cluster, client
),
history AS (
    SELECT cluster, min(stage_at) AS since
    FROM seen
    GROUP BY cluster
)
SELECT n.cluster,
       n.audit_id,
       n.stage_at AS time,
       n.client,
       n.user_name,
       n.source_ip,
       n.user_agent,
       n.verb,
       n.request_uri,
       n.object_resource,
       n.object_namespace,
       n.response_code
FROM fresh n
JOIN history h ON h.cluster = n.cluster
LEFT JOIN first_seen f ON f.cluster = n.cluster AND f.client = n.client
-- nothing with this key earlier in the window…
WHERE (f.first_at IS NULL OR n.stage_at <= f.first_at)
  -- …which holds at least a day of history
  AND h.since <= n.stage_at - INTERVAL '1 day'
