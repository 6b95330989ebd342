-- id: unexpected-image-in-system-namespace
-- title: Pod with an unexpected image created in a system namespace
-- severity: Notice
-- mitre: T1610, T1036.005
-- tags: persistence, defense-evasion, kube-system
-- behaviours: 41
-- equivalents: Pod Created in Kube Namespace
-- level: Request
-- mode: event
-- dedup: cluster, object_namespace, images
-- suppress: 24h
-- output: Pod {object_namespace}/{object_name} created by {user_name} runs image(s) {images} not usual in system namespaces (containers {containers}, owner {owner})
-- description: A pod was created in a system namespace (kube-system, kube-public, kube-node-lease)
--   with a container image that is neither in `system_namespace_images` (the cluster's own
--   components and add-ons) nor in `trusted_images`. Intruders hide workloads among the cluster's
--   components, where service accounts are powerful and few people look. Pods created by
--   controllers count, so a Deployment or DaemonSet placed in kube-system is seen when its pods
--   start. Add the add-on images your distribution runs (EKS, AKS and GKE use their own registries)
--   to `system_namespace_images`.
SELECT cluster, audit_id, min(stage_at) AS time, user_name, source_ip, verb,
       object_resource, object_namespace, object_name, owner,
       array_to_string(array_sort(array_agg(DISTINCT container_name)), ', ') AS containers,
       array_to_string(array_sort(array_agg(DISTINCT image)), ', ') AS images
FROM pod_containers c
-- every new pod in a system namespace, controllers' pods included: a Deployment an intruder
-- writes to kube-system shows here as the replicaset-controller's pods
WHERE object_resource = 'pods'
  AND verb = 'create'
  AND in_system_namespace
  -- images usual in system namespaces, and trusted images, are expected
  AND NOT EXISTS (SELECT 1
                  FROM image_list_repositories expected
                  WHERE expected.list IN ('system_namespace_images', 'trusted_images')
                    AND expected.repository = c.repository)
GROUP BY cluster, audit_id, user_name, source_ip, verb, object_resource, object_namespace,
         object_name, owner
