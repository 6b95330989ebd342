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
    WHERE user_name NOT IN (SELECT value FROM known_controllers)
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
WHERE NOT EXISTS (SELECT 1 FROM seen s
                  WHERE s.cluster = n.cluster
                    AND s.user_name = n.user_name
                    AND s.client = n.client
                    AND s.stage_at < n.stage_at)
  AND EXISTS (SELECT 1 FROM seen h
              WHERE h.cluster = n.cluster
                AND h.stage_at <= n.stage_at - INTERVAL '1 day')
