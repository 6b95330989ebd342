-- id: secret-first-read-by-identity
-- title: Secret read by an identity that never read it before
-- severity: Notice
-- mitre: T1552.007
-- tags: credential-access, secrets, baseline
-- behaviours: 85
-- level: Metadata
-- mode: sequence
-- window: 30d
-- filter: object_resource = 'secrets' AND object_subresource IS NULL AND verb = 'get'
--   AND response_code BETWEEN 200 AND 299
--   AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:kube-system:%'
--   AND NOT (COALESCE(user_name, '') LIKE 'system:%'
--            AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:%')
-- compact: cluster, object_namespace, object_name, user_name
-- dedup: cluster, user_name, object_namespace, object_name
-- suppress: 24h
-- output: {user_name} read secret {object_namespace}/{object_name} for the first time; it was read by {earlier_readers} other identities since {secret_first_read} ({usual_readers}) - from {source_ip} with {user_agent}
-- description: An identity read a secret that it had not read in the last 30 days, while the
--   secret itself has a reading history of at least 7 days by other identities. Each secret is
--   normally read by the same few workloads and people; a new reader is either a new
--   deployment or a person or token reaching for credentials that are not theirs. The alert
--   lists the usual readers to compare against. Secrets with no earlier reads in the window
--   are not reported (there is no baseline yet), nor are nodes and control-plane identities.

-- events holds 30 days of successful secret gets; new_events the ones just added.
-- A new read is compared only with reads strictly before it.
WITH readers AS (
  -- each identity's first read of each secret in the window: a secret has few readers, and a
  -- new read is compared with them, not with every earlier read
  SELECT cluster, object_namespace, object_name, user_name, min(stage_at) AS first_read
  FROM events
  GROUP BY cluster, object_namespace, object_name, user_name
),
history AS (
  SELECT n.cluster,
         n.audit_id,
         n.stage_at,
         n.user_name,
         n.source_ip,
         n.user_agent,
         n.object_namespace,
         n.object_name,
         min(r.first_read) AS secret_first_read,
         bool_or(r.user_name = n.user_name) AS read_before,
         count(DISTINCT r.user_name) AS earlier_readers,
         array_to_string(array_agg(DISTINCT r.user_name), ', ') AS usual_readers
  FROM new_events n
  JOIN readers r
    ON r.cluster = n.cluster
   AND r.object_namespace = n.object_namespace
   AND r.object_name = n.object_name
   AND r.first_read < n.stage_at
  GROUP BY n.cluster, n.audit_id, n.stage_at, n.user_name, n.source_ip, n.user_agent,
           n.object_namespace, n.object_name
)
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       object_namespace,
       object_name,
       earlier_readers,
       secret_first_read,
       usual_readers
FROM history
WHERE NOT read_before
  AND NOT in_list(user_name, 'known_controllers')
  -- the secret has been read for at least a week: enough history to call a reader new
  AND secret_first_read <= stage_at - INTERVAL '7 days'
