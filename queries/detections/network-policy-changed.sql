-- id: network-policy-changed
-- title: Network policy created, changed or deleted
-- severity: Notice
-- mitre: T1562.007, T1599
-- tags: network, defense-evasion, network-policy, change-tracking
-- behaviours: 78
-- level: Metadata
-- mode: event
-- dedup: cluster, object_resource, object_namespace, object_name, verb
-- suppress: 10m
-- output: {user_name} {verb} {policy_kind} {policy} from {source_ip} with {user_agent}
-- description: A network policy was created, changed or deleted: a Kubernetes NetworkPolicy,
--   an AdminNetworkPolicy, or a Cilium or Calico policy. Network policies are what keeps a
--   compromised pod from reaching databases, the cloud metadata service or other tenants;
--   deleting or loosening one is a quiet way to open that path again. Check that the change
--   came through the usual deployment process.

-- The namespace controller deletes the policies of a namespace being deleted; control-plane
-- and kube-system identities are left out.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       object_api_group,
       object_resource,
       object_namespace,
       object_name,
       object_resource || CASE WHEN object_api_group IN ('', 'networking.k8s.io') OR object_api_group IS NULL
                               THEN '' ELSE '.' || object_api_group END AS policy_kind,
       COALESCE(NULLIF(concat_ws('/', object_namespace, object_name), ''), '(all in namespace)') AS policy,
       response_code
FROM events
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND verb IN ('create', 'update', 'patch', 'delete', 'deletecollection')
  AND object_subresource IS NULL
  AND (
        (object_api_group = 'networking.k8s.io' AND object_resource = 'networkpolicies')
     OR (object_api_group = 'policy.networking.k8s.io'
         AND object_resource IN ('adminnetworkpolicies', 'baselineadminnetworkpolicies'))
     OR (object_api_group = 'cilium.io'
         AND object_resource IN ('ciliumnetworkpolicies', 'ciliumclusterwidenetworkpolicies'))
     OR (object_api_group IN ('crd.projectcalico.org', 'projectcalico.org')
         AND object_resource IN ('networkpolicies', 'globalnetworkpolicies', 'stagednetworkpolicies',
                                 'stagedglobalnetworkpolicies', 'stagedkubernetesnetworkpolicies'))
      )
  AND response_code BETWEEN 200 AND 299
  AND COALESCE(user_name, '') NOT LIKE 'system:kube-%'
  AND COALESCE(user_name, '') NOT LIKE 'system:serviceaccount:kube-system:%'
