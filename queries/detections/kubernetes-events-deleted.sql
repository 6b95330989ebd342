-- id: kubernetes-events-deleted
-- title: Kubernetes events deleted
-- severity: Notice
-- mitre: T1070
-- tags: defense-evasion, events, impact
-- behaviours: 87
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace
-- suppress: 10m
-- output: {user_name} deleted Kubernetes events ({verb} {target}) in namespace {object_namespace} from {source_ip} ({user_agent})
-- description: Someone deleted Kubernetes Event objects. Events record what the cluster did
--   (pods scheduled, images pulled, probes failing, containers killed); they expire on their own
--   after about an hour, so deleting them by hand is rarely routine and can hide what just
--   happened. Controllers that clean up after a deleted namespace are not reported.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       object_namespace,
       object_name,
       -- a deletecollection has no object name: it removes every event the selector matches
       COALESCE(NULLIF(object_name, ''), '(all events)') AS target
FROM events
WHERE object_resource = 'events'
  -- core v1 events and events.k8s.io events are the same objects
  AND COALESCE(object_api_group, '') IN ('', 'events.k8s.io')
  AND object_subresource IS NULL
  AND verb IN ('delete', 'deletecollection')
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- a server-side dry run (?dryRun=All) changes nothing
  AND COALESCE(request_uri, '') NOT LIKE '%dryRun=All%'
  -- the namespace controller and garbage collector delete events of deleted namespaces
  AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
  AND user_name NOT IN ('system:kube-controller-manager', 'system:apiserver')
  AND NOT in_list(user_name, 'known_controllers')
