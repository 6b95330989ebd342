-- id: secret-read-new-client
-- title: Secrets read by an identity with a client not seen for it in 7 days
-- severity: Notice
-- mitre: T1552.007, T1528
-- tags: credential-access, secrets, baseline
-- behaviours: 15
-- level: Metadata
-- mode: sequence
-- window: 7d
-- filter: COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND object_resource = 'secrets'
--   AND object_subresource IS NULL
--   AND verb IN ('get', 'list', 'watch')
--   AND authz_decision = 'allow'
--   AND COALESCE(user_name, '') <> ''
--   AND user_name NOT LIKE 'system:node:%'
--   AND user_name NOT LIKE 'system:kube-%'
--   AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
-- compact: cluster, user_name, user_agent
-- dedup: cluster, user_name, client
-- suppress: 1d
-- output: {user_name} {verb} secrets {target} from {source_ip} with {user_agent}: a client it has not read secrets with in 7 days
-- description: An identity read secrets with a client program (user agent, versions ignored)
--   it has not used to read secrets in the last seven days. Each workload reads its secrets
--   the same way every time, and people use the same few tools; a new client reading secrets
--   is what a stolen token or kubeconfig looks like when someone goes for the credentials
--   stored in the cluster.

-- A client is the user agent without version numbers and without client-go's trailing
-- "kubernetes/<commit>". Nothing is reported until the window holds a day of history.
-- Source addresses are not part of the baseline: pods change address on every restart.
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
           object_namespace,
           object_name,
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
       n.object_namespace,
       n.object_name,
       COALESCE(NULLIF(concat_ws('/', n.object_namespace, n.object_name), ''), '(all namespaces)') AS target
FROM fresh n
JOIN history h ON h.cluster = n.cluster
LEFT JOIN first_seen f ON f.cluster = n.cluster AND f.user_name = n.user_name AND f.client = n.client
-- nothing with this key earlier in the window…
WHERE (f.first_at IS NULL OR n.stage_at <= f.first_at)
  -- …which holds at least a day of history
  AND h.since <= n.stage_at - INTERVAL '1 day'
