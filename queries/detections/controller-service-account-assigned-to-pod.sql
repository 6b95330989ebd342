-- id: controller-service-account-assigned-to-pod
-- title: Built-in controller service account assigned to a pod
-- severity: Warning
-- mitre: T1078.001, T1610
-- tags: privilege-escalation, credential-access, kube-system
-- behaviours: 50
-- level: Request
-- mode: event
-- dedup: cluster, user_name, service_account, object_name
-- suppress: 1h
-- output: {user_name} wrote {object_resource} kube-system/{object_name} running as controller service account {service_account} (images {images}) from {source_ip}
-- description: A pod, or the pod template of a workload, in kube-system runs as one of the service
--   accounts of kube-controller-manager's built-in controllers (listed in
--   `controller_service_accounts`: clusterrole-aggregation-controller, daemon-set-controller,
--   generic-garbage-collector, namespace-controller ...). The controller manager uses these
--   identities internally; no pod needs them. Mounting one into a pod hands its holder the
--   controller's rights (create pods anywhere, delete any object, grant itself roles through
--   aggregation): a privilege escalation for anyone allowed to create pods in kube-system. Pods
--   that controllers create are checked too.
WITH accounts AS (
  SELECT *,
         -- `serviceAccount` is the deprecated alias of `serviceAccountName`
         COALESCE(json_get_str(pod_spec, 'serviceAccountName'),
                  json_get_str(pod_spec, 'serviceAccount')) AS service_account,
         array_to_string(json_values(pod_spec, '$["containers","initContainers"][*].image'), ', ')
           AS images
  FROM pod_spec_writes
  -- new pods and workloads; the built-in controllers' service accounts exist only in kube-system
  WHERE object_subresource IS NULL
    AND object_namespace = 'kube-system'
)
SELECT a.cluster, a.audit_id, a.stage_at AS time, a.user_name, a.source_ip, a.verb,
       a.object_resource, a.object_name, a.service_account, a.images
FROM accounts a
JOIN controller_service_accounts c ON c.value = a.service_account
