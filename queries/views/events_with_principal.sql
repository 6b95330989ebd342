-- Every event of `events`, with two answers to "is this the cluster acting on itself?" about the
-- identity that made it (`user_name`). Rules leave those identities out where the cluster's own
-- work would drown what people and applications do.
--
-- is_cluster_component: one of the components that make up the cluster, named precisely:
--   - the control-plane processes (system:apiserver, system:kube-controller-manager,
--     system:kube-scheduler, system:kube-proxy, system:addon-manager) and the kubelets
--     (system:node:*)
--   - the service accounts of kube-system (the built-in controllers and add-ons run as these)
--   - the EKS operators (eks:*)
--   - the identities listed in `known_controllers` (GitOps and operator controllers)
--   Any other `system:` name (system:admin, a hand-made kubeconfig) is not a component.
--
-- is_system_principal: broader, every identity that is not a person or an application:
--   - every `system:` identity except system:anonymous and the service accounts outside
--     kube-system (the control plane, nodes, and any other system: user)
--   - the service accounts of kube-system
--   - the managed-cloud operators: eks:*, and AKS's aksService and masterclient
--   - the identities listed in `known_controllers`
--   Every cluster component is a system principal.
--
-- An event without a user name is neither.
SELECT e.*,
       COALESCE(
            (e.user_name LIKE 'system:%' AND e.user_name NOT LIKE 'system:serviceaccount:%'
             AND e.user_name <> 'system:anonymous')
         OR e.user_name LIKE 'system:serviceaccount:kube-system:%'
         OR e.user_name LIKE 'eks:%'
         OR e.user_name IN ('aksService', 'masterclient')
         OR in_list(e.user_name, 'known_controllers'),
         false) AS is_system_principal,
       COALESCE(e.user_name, '') LIKE 'system:serviceaccount:kube-system:%'
         OR COALESCE(e.user_name, '') LIKE 'system:node:%'
         OR COALESCE(e.user_name, '') LIKE 'eks:%'
         OR COALESCE(e.user_name, '') IN ('system:apiserver', 'system:kube-controller-manager',
                                          'system:kube-scheduler', 'system:kube-proxy',
                                          'system:addon-manager')
         OR COALESCE(in_list(e.user_name, 'known_controllers'), false) AS is_cluster_component
FROM events e
