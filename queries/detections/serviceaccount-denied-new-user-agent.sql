-- id: serviceaccount-denied-new-user-agent
-- title: Service account refused while using a new client
-- severity: Notice
-- mitre: T1078.004, T1528
-- tags: credential-access, discovery, baseline, service-account
-- behaviours: 11
-- level: Metadata
-- mode: sequence
-- window: 7d
-- filter: COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND authz_decision = 'forbid'
--   AND user_name LIKE 'system:serviceaccount:%'
-- compact: cluster, user_name, user_agent
-- dedup: cluster, user_name, client
-- suppress: 1d
-- output: {user_name} was refused {verb} {request_uri} from {source_ip} with a client it was not refused with in 7 days: {user_agent}
-- description: A service account's request was refused, and the client program it used
--   (user agent, versions ignored) is not one the account was refused with in the last seven
--   days. Workloads keep using the same client; a service account token that shows up with
--   curl, kubectl or a script and bumps into RBAC has usually been taken from its pod.

-- A client is the user agent without version numbers and without client-go's trailing
-- "kubernetes/<commit>". Nothing is reported until the window holds a day of history.
WITH seen AS (
    SELECT cluster,
           stage_at,
           user_name,
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
           regexp_replace(split_part(COALESCE(user_agent, ''), ' kubernetes/', 1), '[0-9]+', 'N', 'g') AS client
    FROM new_events
    WHERE NOT in_list(user_name, 'known_controllers')
),
-- the first time each key was seen in the window, and how far back the window goes: one pass
-- over the window, however many events share a key
first_seen AS (
    SELECT cluster, user_name, client, min(stage_at) AS first_at
    FROM seen
    GROUP BY cluster, user_name, client
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
       n.client,
       n.source_ip,
       n.user_agent,
       n.verb,
       n.request_uri,
       n.object_resource,
       n.object_namespace
FROM fresh n
JOIN history h ON h.cluster = n.cluster
LEFT JOIN first_seen f ON f.cluster = n.cluster AND f.user_name = n.user_name AND f.client = n.client
-- nothing with this key earlier in the window…
WHERE (f.first_at IS NULL OR n.stage_at <= f.first_at)
  -- …which holds at least a day of history
  AND h.since <= n.stage_at - INTERVAL '1 day'
