-- id: anonymous-pod-write
-- title: Anonymous user created or changed a pod
-- severity: Critical
-- mitre: T1610, T1078.001
-- tags: execution, anonymous, pods
-- behaviours: 2
-- level: Metadata
-- mode: event
-- dedup: cluster, source_ip, object_namespace, object_name
-- suppress: 10m
-- output: Anonymous {verb} of {target} allowed from {source_ip} ({user_agent}): {authz_reason}
-- description: A request without credentials was allowed to create, update or patch a pod (or
--   one of its subresources such as exec or ephemeralcontainers). Anyone who can reach the
--   API server can then run code in the cluster. This is how exposed clusters get
--   cryptominers; treat the cluster as compromised, remove the RBAC binding that grants
--   system:anonymous or system:unauthenticated these rights and inspect the pod.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       request_uri,
       object_namespace,
       object_name,
       object_subresource,
       'pod ' || concat_ws('/', object_namespace, object_name) || COALESCE(' (' || object_subresource || ')', '') AS target,
       response_code,
       authz_reason
FROM events
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND (user_name = 'system:anonymous'
       OR array_has(user_groups, 'system:unauthenticated'))
  AND object_resource = 'pods'
  AND verb IN ('create', 'update', 'patch')
  AND (authz_decision = 'allow'
       OR (authz_decision IS NULL AND response_code BETWEEN 200 AND 299))
