-- id: pod-created-in-default-namespace
-- title: Workload created in the default namespace
-- severity: Informational
-- mitre: T1610
-- tags: hygiene, workload
-- behaviours: 42
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_resource, object_name
-- suppress: 1h
-- output: {user_name} created {object_resource} default/{object_name} from {source_ip} with {user_agent}
-- description: A person or a service account created a pod or a workload (Deployment, DaemonSet,
--   StatefulSet, ReplicaSet, Job, CronJob) in the `default` namespace. Well-run clusters keep
--   applications in their own namespaces, where quotas, network policies and RBAC apply; the
--   default namespace is where quick `kubectl run` experiments, forgotten test pods and intruders'
--   tools end up. Pods that controllers create from a workload are not counted again.
SELECT cluster, audit_id, stage_at AS time, user_name, source_ip, user_agent, object_resource,
       object_name
FROM pod_spec_writes
WHERE object_subresource IS NULL
  AND verb = 'create'
  AND object_namespace = 'default'
  -- not the control plane, nodes, kube-system service accounts (controllers) or cloud operators
  AND NOT is_system_principal
