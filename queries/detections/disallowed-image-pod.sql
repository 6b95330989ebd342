-- id: disallowed-image-pod
-- title: Container image outside the allowed list
-- severity: Warning
-- mitre: T1610, T1204.003
-- tags: execution, supply-chain, workload
-- behaviours: 43
-- equivalents: Create Disallowed Pod
-- level: Request
-- mode: event
-- dedup: cluster, user_name, object_namespace, images
-- suppress: 1h
-- output: {user_name} wrote {object_resource} {object_namespace}/{object_name} with image(s) {images} outside allowed_images (containers {containers}) from {source_ip}
-- description: A pod, or the pod template of a workload, uses a container image whose repository is
--   not in `allowed_images`. Clusters that only run images from their own registries treat any
--   other image as an intrusion or a supply-chain bypass: a public tool image, a look-alike name, a
--   registry the build pipeline does not scan. Entries are repositories without tag
--   (`registry.example.com/shop/api`), or a prefix ending in `/` that allows a registry or project
--   (`registry.example.com/`); Docker Hub names compare without `docker.io/` and `library/`. The
--   rule is off while `allowed_images` is empty. Control-plane and kube-system identities placing
--   pods in system namespaces are left out.
SELECT cluster, audit_id, min(stage_at) AS time, user_name, source_ip, verb,
       object_resource, object_namespace, object_name, owner,
       array_to_string(array_sort(array_agg(DISTINCT container_name)), ', ') AS containers,
       array_to_string(array_sort(array_agg(DISTINCT image)), ', ') AS images
FROM pod_containers c
WHERE NOT is_routine_system_write
  AND NOT EXISTS (SELECT 1
                  FROM image_list_repositories allowed
                  WHERE allowed.list = 'allowed_images'
                    AND (allowed.repository = c.repository
                         -- an entry ending in `/` allows a whole registry or project:
                         -- `registry.example.com/`
                         OR (allowed.repository LIKE '%/' AND allowed.repository <> '/'
                             AND starts_with(c.repository, allowed.repository))))
  -- an empty allowed_images list turns the rule off
  AND EXISTS (SELECT 1 FROM allowed_images)
GROUP BY cluster, audit_id, user_name, source_ip, verb, object_resource, object_namespace,
         object_name, owner
