-- id: new-user-client-decision
-- title: User got a decision with a client not seen for that user in 10 days
-- severity: Informational
-- mitre: T1078
-- tags: baseline, initial-access, authorization
-- behaviours: 12
-- level: Metadata
-- mode: sequence
-- window: 10d
-- filter: COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND authz_decision IN ('allow', 'forbid')
--   AND COALESCE(user_name, '') <> ''
--   AND user_name NOT LIKE 'system:%'
-- compact: cluster, user_name, authz_decision, user_agent
-- dedup: cluster, user_name, authz_decision, client
-- suppress: 1d
-- output: {user_name} was {decision_text} {verb} {request_uri} using {user_agent} from {source_ip}: first {authz_decision} for this user and client in 10 days
-- description: A person's (or external identity's) request was allowed or refused, and that
--   combination of user, client program (user agent, versions ignored) and decision did not
--   occur in the last ten days. A new client for a known user, or a user suddenly refused
--   with a new tool, is how a stolen kubeconfig or cloud credential first appears. Expect
--   these when people change laptops or tools; follow up when they cannot explain it.

-- Service accounts, nodes and control-plane identities (system:*) are left out: their
-- clients are fixed and they dominate the volume. Nothing is reported until the window
-- holds a day of history.
WITH seen AS (
    SELECT cluster,
           stage_at,
           user_name,
           authz_decision,
           regexp_replace(split_part(COALESCE(user_agent, ''), ' kubernetes/', 1), '[0-9]+', 'N', 'g') AS client
    FROM events
),
fresh AS (
    SELECT cluster,
           audit_id,
           stage_at,
           user_name,
           authz_decision,
           source_ip,
           user_agent,
           verb,
           request_uri,
           regexp_replace(split_part(COALESCE(user_agent, ''), ' kubernetes/', 1), '[0-9]+', 'N', 'g') AS client
    FROM new_events
),
-- the first time each key was seen in the window, and how far back the window goes: one pass
-- over the window, however many events share a key
first_seen AS (
    SELECT cluster, user_name, authz_decision, client, min(stage_at) AS first_at
    FROM seen
    GROUP BY cluster, user_name, authz_decision, client
),
history AS (
    SELECT cluster, min(stage_at) AS since
    FROM seen
    GROUP BY cluster
)
SELECT n.cluster,
       n.audit_id,
       n.stage_at AS time,
       n.user_name,
       n.authz_decision,
       CASE WHEN n.authz_decision = 'allow' THEN 'allowed' ELSE 'refused' END AS decision_text,
       n.client,
       n.source_ip,
       n.user_agent,
       n.verb,
       n.request_uri
FROM fresh n
JOIN history h ON h.cluster = n.cluster
LEFT JOIN first_seen f ON f.cluster = n.cluster AND f.user_name = n.user_name AND f.authz_decision = n.authz_decision AND f.client = n.client
-- nothing with this key earlier in the window…
WHERE (f.first_at IS NULL OR n.stage_at <= f.first_at)
  -- …which holds at least a day of history
  AND h.since <= n.stage_at - INTERVAL '1 day'
