-- id: security-tooling-tampered
-- title: Security tooling removed or scaled to zero
-- severity: Warning
-- mitre: T1562.001
-- tags: defense-evasion, security-tooling
-- behaviours: 90
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace
-- suppress: 30m
-- output: {user_name} {action} {object_resource} {target} from {source_ip} ({user_agent})
-- description: A security agent or policy engine was taken out: its DaemonSet, Deployment or
--   StatefulSet was deleted or scaled to zero replicas, its admission webhook configuration was
--   deleted, or its whole namespace was deleted. Intruders disable runtime sensors and admission
--   control before they act, so the defences go quiet exactly when they are needed. Security
--   namespaces come from list security_namespaces, agent and webhook names from
--   security_agent_names. The tool's own service accounts (an operator reconciling its
--   components) and the cluster's controllers are left out. Spotting a scale to zero needs the
--   Request audit level for deployments and statefulsets; deletions need only Metadata.
WITH changes AS (
  SELECT cluster,
         audit_id,
         stage_at AS time,
         user_name,
         source_ip,
         user_agent,
         verb,
         object_resource,
         object_subresource,
         object_namespace,
         object_name,
         CASE WHEN verb IN ('delete', 'deletecollection') THEN 'deleted' ELSE 'scaled to zero' END AS action,
         CASE
           WHEN object_namespace IS NOT NULL AND object_resource <> 'namespaces'
             THEN object_namespace || '/' || COALESCE(NULLIF(object_name, ''), '(all)')
           ELSE COALESCE(NULLIF(object_name, ''), '(all)')
         END AS target
  FROM events
  WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
    AND response_code BETWEEN 200 AND 299
    -- a server-side dry run (?dryRun=All) changes nothing
    AND COALESCE(request_uri, '') NOT LIKE '%dryRun=All%'
    AND (
      -- removal of the agent, its namespace or its admission hooks
      (verb IN ('delete', 'deletecollection')
       AND object_subresource IS NULL
       AND object_resource IN ('daemonsets', 'deployments', 'statefulsets', 'namespaces',
                               'validatingwebhookconfigurations', 'mutatingwebhookconfigurations',
                               'validatingadmissionpolicies', 'validatingadmissionpolicybindings'))
      OR
      -- scale to zero, through the object or its scale subresource
      (verb IN ('patch', 'update')
       AND object_resource IN ('deployments', 'statefulsets', 'replicasets')
       AND (object_subresource IS NULL OR object_subresource = 'scale')
       AND json_value(request_object, '$.spec.replicas') = '0')
    )
    -- cascading deletes by the namespace controller / garbage collector follow a deletion
    -- that is itself reported
    AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
    AND user_name NOT IN ('system:kube-controller-manager', 'system:apiserver')
    AND NOT in_list(user_name, 'known_controllers')
)
SELECT c.*
FROM changes c
WHERE (
        in_list(c.object_namespace, 'security_namespaces')
        OR (c.object_resource = 'namespaces' AND in_list(c.object_name, 'security_namespaces'))
        OR starts_with_any(c.object_name, 'security_agent_names')
      )
  -- the tool managing itself: its service accounts live in its own namespace or in a
  -- security namespace (cluster-scoped webhook configurations have no namespace)
  AND NOT (c.user_name LIKE 'system:serviceaccount:%'
           AND (split_part(c.user_name, ':', 3) = COALESCE(c.object_namespace, '')
                OR in_list(split_part(c.user_name, ':', 3), 'security_namespaces')))
