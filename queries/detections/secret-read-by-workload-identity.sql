-- id: secret-read-by-workload-identity
-- title: Secret read by a pod service account outside its namespace, or by a node
-- severity: Notice
-- mitre: T1552.007, T1528
-- tags: credential-access, secrets, service-account, node
-- behaviours: 83
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace, object_name
-- suppress: 24h
-- output: {user_name} ({identity}) ran {verb} on secret {object_namespace}/{object_name} ({scope}) from {source_ip} with {user_agent}
-- description: A workload's service account read a secret in another namespace than its own
--   (or listed secrets across all namespaces), or a node's kubelet credential read a secret
--   outside the kubelet's usual pattern. Workloads receive their own secrets as volumes or
--   environment variables; an API read across namespaces is either an operator doing its job
--   (add it to known_controllers) or someone using a token stolen from the pod. Kubelets read
--   secrets only through per-object watches (fieldSelector=metadata.name) for the pods they
--   run; a plain get or a broad list with a node credential suggests a stolen kubelet
--   certificate. Reads inside the service account's own namespace are left to the
--   first-reader baseline rule; kube-system and Azure Arc proxy service accounts are not
--   reported here.

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
             AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
             AND user_name NOT LIKE 'system:serviceaccount:azure-arc:%'))
    AND NOT in_list(user_name, 'known_controllers')
)
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       CASE WHEN sa_namespace IS NULL THEN 'node'
            ELSE 'service account' || COALESCE(' of pod ' || pod_name, '') END AS identity,
       pod_name,
       source_ip,
       user_agent,
       verb,
       request_uri,
       object_namespace,
       object_name,
       CASE WHEN COALESCE(object_namespace, '') = '' THEN 'all namespaces'
            WHEN sa_namespace IS NULL THEN 'node credential'
            ELSE 'outside namespace ' || sa_namespace END AS scope
FROM reads
WHERE CASE
        -- kubelet: anything but its list/watch of one secret by name
        WHEN sa_namespace IS NULL
          THEN NOT (verb = 'list' AND request_uri LIKE '%fieldSelector=metadata.name%')
        -- service account: another namespace, or all of them
        ELSE COALESCE(object_namespace, '') <> sa_namespace
      END
