-- id: secret-bulk-access
-- title: Bulk secret access by one identity
-- severity: Notice
-- mitre: T1552.007
-- tags: credential-access, secrets
-- behaviours: 82
-- equivalents: Kubernetes.BulkSecretAccess x15
-- level: Metadata
-- mode: window
-- window: 30m
-- every: 1m
-- filter: object_resource = 'secrets' AND verb IN ('get', 'list', 'watch') AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
-- dedup: cluster, user_name
-- suppress: 30m
-- output: {user_name} made {requests} secret requests ({verbs}) in 30 minutes across {namespaces}
-- description: One identity read, listed or watched secrets at least 15 times (distinct secrets,
--   or distinct list and watch requests) within 30 minutes, allowed or not. It is the broad
--   form of secret enumeration; the Warning rule `secret-enumeration-burst` counts named reads
--   only. Control-plane, node and kube-system identities and known controllers are not counted.
SELECT cluster,
       user_name,
       array_agg(DISTINCT audit_id) AS audit_ids,
       max(stage_at) AS time,
       count(DISTINCT COALESCE(object_namespace || '/' || object_name, audit_id)) AS requests,
       array_to_string(array_agg(DISTINCT verb), ', ') AS verbs,
       array_to_string(array_agg(DISTINCT object_namespace), ', ') AS namespaces
FROM events
WHERE NOT (    (COALESCE(user_name, '') LIKE 'system:%'
                AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:%'
                AND COALESCE(user_name, '') <> 'system:anonymous')
            OR COALESCE(user_name, '') LIKE 'system:serviceaccount:kube-system:%'
            OR COALESCE(user_name, '') LIKE 'eks:%')
  AND NOT in_list(COALESCE(user_name, ''), 'known_controllers')
GROUP BY cluster, user_name
HAVING count(DISTINCT COALESCE(object_namespace || '/' || object_name, audit_id)) >= 15
