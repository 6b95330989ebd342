-- One row per hostPath volume that a container of untrusted_pod_containers mounts, with that
-- container's columns and:
--   volume_name  the volume's name in the container's volumeMounts
--   host_path    the node path, as written in the pod spec's volumes
--   path         the same path without trailing slashes (`/etc/kubernetes/` is
--                `/etc/kubernetes`; `/` stays `/`), for comparing with lists of paths
SELECT m.*,
       COALESCE(NULLIF(regexp_replace(m.host_path, '/+$', ''), ''), '/') AS path
FROM (SELECT v.*,
             -- the hostPath of the volume the container mounts (volume names are DNS labels:
             -- no quotes to escape)
             json_value(v.pod_spec, '$.volumes[?@.name=="' || v.volume_name || '"].hostPath.path')
               AS host_path
      FROM (SELECT c.*, unnest(json_values(c.container, '$.volumeMounts[*].name')) AS volume_name
            FROM untrusted_pod_containers c) v) m
WHERE m.host_path IS NOT NULL
