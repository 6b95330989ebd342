-- id: object-created-or-deleted
-- title: Kubernetes object created or deleted
-- severity: Informational
-- mitre: T1610, T1098
-- tags: change-tracking
-- behaviours: 91
-- equivalents: K8s Deployment Created | K8s Service Created | K8s Service Deleted | K8s ConfigMap Created | K8s ConfigMap Deleted | K8s Namespace Created | K8s Serviceaccount Deleted | K8s Role Created | K8s Role Deleted | K8s ClusterRole Created | K8s ClusterRole Deleted | K8s Role/Clusterrole Created | K8s Role/Clusterrole Deleted
-- level: Metadata
-- mode: event
-- output: {user_name} {action} {object_resource} {target} ({response_code}) from {source_ip} ({user_agent})
-- description: Change-tracking feed: a Deployment, Service, ConfigMap, Namespace, Role or
--   ClusterRole was created, or a Service, ConfigMap, ServiceAccount, Role or ClusterRole was
--   deleted. Not a threat by itself; it answers "who changed what, when" during an
--   investigation. The RESOURCE:VERB pairs come from list tracked_changes (empty it to turn the
--   feed off). Deleted deployments and namespaces, created service accounts, bindings and
--   secrets have their own rules. Changes by the control plane itself (system: identities other
--   than service accounts, kube-system controllers) are left out.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       object_resource,
       object_namespace,
       object_name,
       response_code,
       authz_decision,
       authz_reason,
       CASE verb WHEN 'create' THEN 'created' ELSE 'deleted' END AS action,
       -- a create with generateName has no name in objectRef; the response names the object
       CASE WHEN object_resource <> 'namespaces' THEN COALESCE(object_namespace || '/', '') ELSE '' END ||
         COALESCE(NULLIF(object_name, ''),
                  json_value(response_object, '$.metadata.name'),
                  json_value(request_object, '$.metadata.name'),
                  '(unnamed)') AS target
FROM events
WHERE verb IN ('create', 'delete')
  AND object_subresource IS NULL
  AND in_list(object_resource || ':' || verb, 'tracked_changes')
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- a server-side dry run (?dryRun=All) changes nothing
  AND COALESCE(request_uri, '') NOT LIKE '%dryRun=All%'
  AND (user_name NOT LIKE 'system:%' OR user_name LIKE 'system:serviceaccount:%')
  AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
