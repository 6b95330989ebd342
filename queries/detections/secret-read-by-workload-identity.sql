-- id: secret-read-by-workload-identity
-- title: Secret read by a pod service account or a node
-- severity: Notice
-- mitre: T1552.007, T1078.004
-- tags: credential-access, secrets, service-account, node
-- behaviours: 83
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace, object_name
-- suppress: 6h
-- output: {user_name} ({identity}) ran {verb} on secret {object_namespace}/{object_name} ({scope}) from {source_ip} with {user_agent}
-- description: A workload's service account, or a node's kubelet credential, read a secret
--   through the API. Most workloads receive secrets as mounted volumes or environment variables
--   and never call the API for them, so an API read by one is either an operator doing its job
--   (add it to known_controllers) or someone using the token stolen from it; a read in another
--   namespace than the service account's own is the stronger sign. Nodes read secrets through
--   per-object watches (fieldSelector=metadata.name) for their pods; those are not reported,
--   plain gets and broad lists are. kube-system service accounts are not reported.

WITH reads AS (
  SELECT *,
         user_extra['authentication.kubernetes.io/pod-name'][1] AS pod_name,
         -- namespace of a service account: system:serviceaccount:NAMESPACE:NAME
         CASE WHEN user_name LIKE 'system:serviceaccount:%'
              THEN split_part(user_name, ':', 3) END AS sa_namespace
  FROM events
  WHERE object_resource = 'secrets'
    AND object_subresource IS NULL
    AND verb IN ('get', 'list')
    AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
    AND response_code BETWEEN 200 AND 299
    AND (user_name LIKE 'system:node:%'
         OR (user_name LIKE 'system:serviceaccount:%'
             AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'))
    AND user_name NOT IN (SELECT value FROM known_controllers)
)
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       CASE WHEN user_name LIKE 'system:node:%' THEN 'node'
            ELSE 'service account' || COALESCE(' of pod ' || pod_name, '') END AS identity,
       pod_name,
       source_ip,
       user_agent,
       verb,
       object_namespace,
       object_name,
       CASE WHEN COALESCE(object_namespace, '') = '' THEN 'all namespaces'
            WHEN sa_namespace IS NULL THEN 'namespace ' || object_namespace
            WHEN sa_namespace <> object_namespace THEN 'another namespace'
            ELSE 'own namespace' END AS scope
FROM reads
-- the kubelet's own pattern: list/watch of one secret by name for a pod it runs
WHERE NOT (user_name LIKE 'system:node:%'
           AND verb = 'list'
           AND request_uri LIKE '%fieldSelector=metadata.name%')
