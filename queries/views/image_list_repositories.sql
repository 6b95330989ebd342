-- The entries of the image allow-lists, as repositories normalised like
-- pod_containers.repository (no tag or digest; `docker.io/` and `library/` dropped), one row per
-- list and repository. `list` is the list's name:
--   trusted_images           images every pod-security rule lets through (CNI, kube-proxy,
--                            node agents)
--   allowed_images           the only images disallowed-image-pod accepts (an entry ending in
--                            `/` is a whole registry or project)
--   system_namespace_images  the images usual in system namespaces
SELECT DISTINCT list,
       regexp_replace(image_repository(value),
                      '^((index\.|registry-1\.)?docker\.io/)?(library/)?', '') AS repository
FROM (SELECT 'trusted_images' AS list, value FROM trusted_images
      UNION ALL
      SELECT 'allowed_images' AS list, value FROM allowed_images
      UNION ALL
      SELECT 'system_namespace_images' AS list, value FROM system_namespace_images) l
