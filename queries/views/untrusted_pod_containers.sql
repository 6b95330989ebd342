-- The containers the pod-security rules check (host namespaces, privileged, capabilities, run as
-- root, hostPath volumes): the rows of pod_containers except
--   - the cluster's own routine writes (pod_spec_writes.is_routine_system_write), and
--   - containers whose image is in `trusted_images` (CNI, kube-proxy, storage or monitoring
--     node agents, which need these powers).
-- (NOT EXISTS rather than LEFT JOIN … IS NULL: DataFusion 55 fails to plan JSON functions over
-- such a join in some rules, "push_down_leaf_projections … would be ambiguous".)
SELECT *
FROM pod_containers
WHERE NOT is_routine_system_write
  AND NOT EXISTS (SELECT 1
                  FROM image_list_repositories trusted
                  WHERE trusted.list = 'trusted_images'
                    AND trusted.repository = pod_containers.repository)
