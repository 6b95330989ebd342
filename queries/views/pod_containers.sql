-- One row per container of every pod spec in pod_spec_writes (containers, init containers and
-- ephemeral containers), with all of that write's columns and:
--   container       the container's spec, JSON text
--   container_name  its name
--   image           its image, as written
--   repository      the image without tag or digest, Docker Hub names shortened: `docker.io/`
--                   and `library/` are dropped (nginx = docker.io/library/nginx), as in
--                   image_list_repositories, so the two compare with `=`
-- A pod spec without containers gives no row.
SELECT c.*,
       json_get_str(c.container, 'name') AS container_name,
       json_get_str(c.container, 'image') AS image,
       regexp_replace(image_repository(json_get_str(c.container, 'image')),
                      '^((index\.|registry-1\.)?docker\.io/)?(library/)?', '') AS repository
FROM (SELECT w.*,
             unnest(array_concat(COALESCE(json_get_array(w.pod_spec, 'containers'), []),
                                 COALESCE(json_get_array(w.pod_spec, 'initContainers'), []),
                                 COALESCE(json_get_array(w.pod_spec, 'ephemeralContainers'), [])))
               AS container
      FROM pod_spec_writes w) c
