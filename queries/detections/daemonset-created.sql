-- id: daemonset-created
-- title: DaemonSet created
-- severity: Notice
-- mitre: T1610
-- tags: execution, persistence, workload
-- behaviours: 46
-- equivalents: Kubernetes.DaemonSet.Created
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace, object_name
-- suppress: 1h
-- output: {user_name} created DaemonSet {object_namespace}/{object_name} (images {images}) from {source_ip} with {user_agent}
-- description: A DaemonSet was created. A DaemonSet runs one pod on every node, including nodes
--   added later: the quickest way to put code on the whole cluster, collect every node's
--   credentials, or keep a foothold that survives node replacement. Cluster components creating
--   DaemonSets in system namespaces are left out; a DaemonSet written to kube-system by a person is
--   not. Images are shown when the policy logs the request body.
SELECT cluster, audit_id, stage_at AS time, user_name, source_ip, user_agent, object_namespace,
       COALESCE(object_name, json_value(request_object, '$.metadata.name')) AS object_name,
       array_to_string(
         json_values(request_object, '$.spec.template.spec["containers","initContainers"][*].image'),
         ', ') AS images
FROM events_with_principal
WHERE object_resource = 'daemonsets'
  AND object_subresource IS NULL
  AND verb = 'create'
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- cluster components (control plane, kube-system service accounts, cloud operators, known
  -- controllers) installing add-ons in system namespaces
  AND NOT (is_system_principal
           AND in_list(COALESCE(object_namespace, ''), 'system_namespaces'))
