-- id: namespace-deleted
-- title: Namespace deleted
-- severity: Notice
-- mitre: T1485
-- tags: impact, data-destruction
-- behaviours: 89
-- equivalents: K8s Namespace Deleted
-- level: Metadata
-- mode: event
-- output: {user_name} deleted namespace {object_name} from {source_ip} ({user_agent})
-- description: A namespace was deleted. Kubernetes then deletes everything in it: workloads,
--   services, secrets, config maps and persistent volume claims (and, with the usual Delete
--   reclaim policy, the data on their volumes). One request destroys a whole application, so
--   every namespace deletion is kept as an audit trail. The cluster's own controllers are left
--   out; service accounts outside kube-system (CI pipelines removing preview environments) are
--   reported.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       user_groups,
       source_ip,
       user_agent,
       verb,
       object_name,
       response_code
FROM events
WHERE object_resource = 'namespaces'
  AND object_subresource IS NULL
  AND verb = 'delete'
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- a server-side dry run (?dryRun=All) changes nothing
  AND COALESCE(request_uri, '') NOT LIKE '%dryRun=All%'
  -- system identities other than service accounts (system:kube-controller-manager,
  -- system:apiserver, nodes) and the kube-system controllers are not people or pipelines
  AND (user_name NOT LIKE 'system:%' OR user_name LIKE 'system:serviceaccount:%')
  AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
  AND NOT in_list(user_name, 'known_controllers')
