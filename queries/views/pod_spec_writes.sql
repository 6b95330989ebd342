-- One row per successful (2xx) write of a pod spec: the rows of pod_spec_write_attempts that
-- the API server accepted, with where they land and who wrote them.
--
-- in_system_namespace: the object is in one of `system_namespaces` (kube-system, ...).
-- is_routine_system_write: the cluster's own routine, which the pod-security rules leave out:
--   a system principal (events_with_principal) placing pods in a system namespace, or writing a
--   workload anywhere. Workloads written by controllers (a ReplicaSet from a Deployment, a Job
--   from a CronJob) repeat a template that was checked when a person wrote it.
SELECT w.*,
       sn.value IS NOT NULL AS in_system_namespace,
       w.is_system_principal AND (sn.value IS NOT NULL OR w.object_resource <> 'pods')
         AS is_routine_system_write
FROM pod_spec_write_attempts w
LEFT JOIN (SELECT DISTINCT value FROM system_namespaces) sn
  ON sn.value = COALESCE(w.object_namespace, '')
WHERE w.response_code BETWEEN 200 AND 299
