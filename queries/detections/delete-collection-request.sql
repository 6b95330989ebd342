-- id: delete-collection-request
-- title: Whole collection deleted in one request
-- severity: Notice
-- mitre: T1485
-- tags: impact, data-destruction
-- behaviours: 89
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_resource, object_namespace
-- suppress: 10m
-- output: {user_name} deleted all {object_resource} in {scope} in one request ({request_uri}) from {source_ip} ({user_agent})
-- description: A deletecollection request removed every object of a kind in a namespace (or in
--   the whole cluster) at once, e.g. all pods, secrets or persistent volume claims. kubectl
--   deletes objects one by one, so a collection delete comes from a script or a client library
--   and can wipe an application in one call. The namespace controller, which empties deleted
--   namespaces this way, and the other kube-system controllers are left out; event clean-up has
--   its own rule.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       request_uri,
       object_resource,
       object_namespace,
       COALESCE('namespace ' || object_namespace, 'all namespaces') AS scope
FROM events
WHERE verb = 'deletecollection'
  AND object_resource <> 'events'
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- a server-side dry run (?dryRun=All) changes nothing
  AND COALESCE(request_uri, '') NOT LIKE '%dryRun=All%'
  AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
  AND user_name NOT LIKE 'system:node:%'
  AND user_name NOT IN ('system:kube-controller-manager', 'system:apiserver', 'system:kube-scheduler')
  AND NOT in_list(user_name, 'known_controllers')
