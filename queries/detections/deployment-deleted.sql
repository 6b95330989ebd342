-- id: deployment-deleted
-- title: Deployment deleted
-- severity: Notice
-- mitre: T1485, T1489
-- tags: impact, workloads
-- behaviours: 88
-- equivalents: K8s Deployment Deleted
-- level: Metadata
-- mode: event
-- output: {user_name} deleted deployment {object_namespace}/{object_name} from {source_ip} ({user_agent})
-- description: A Deployment was deleted, which stops every pod it runs. This is part of normal
--   releases and clean-ups, but it is also how an intruder or a careless command takes an
--   application down. Kept at Notice as an audit trail; deletions by the cluster's own
--   controllers (garbage collection, namespace clean-up) and by known GitOps controllers are
--   left out.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       user_groups,
       source_ip,
       user_agent,
       verb,
       object_namespace,
       object_name,
       response_code
FROM events
WHERE object_resource = 'deployments'
  AND object_subresource IS NULL
  AND verb = 'delete'
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- a server-side dry run (?dryRun=All) changes nothing
  AND COALESCE(request_uri, '') NOT LIKE '%dryRun=All%'
  AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
  AND user_name NOT IN ('system:kube-controller-manager', 'system:apiserver')
  AND NOT in_list(user_name, 'known_controllers')
