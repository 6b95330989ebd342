-- One row per container of every pod spec in pod_spec_write_attempts (containers, init
-- containers and ephemeral containers), with all of that write's columns and:
--   container       the container's spec, JSON text
--   image           its image, as written
--   container_name  its name
--   repository      the image without tag or digest, Docker Hub names shortened: `docker.io/`
--                   and `library/` are dropped (nginx = docker.io/library/nginx), as in
--                   image_list_repositories, so the two compare with `=`
-- A pod spec without containers gives no row. Each pod spec is taken apart here once, for
-- pod_containers and image_watchlist_matches alike.
SELECT c.*,
       json_get_str(c.container, 'name') AS container_name,
       regexp_replace(image_repository(c.image),
                      '^((index\.|registry-1\.)?docker\.io/)?(library/)?', '') AS repository
FROM (SELECT a.*, json_get_str(a.container, 'image') AS image
      FROM (SELECT w.*,
                   unnest(array_concat(
                     COALESCE(json_get_array(w.pod_spec, 'containers'), []),
                     COALESCE(json_get_array(w.pod_spec, 'initContainers'), []),
                     COALESCE(json_get_array(w.pod_spec, 'ephemeralContainers'), [])))
                     AS container
            FROM pod_spec_write_attempts w) a) c
