-- One row per (image, list entry) pair where an image of a pod-spec write attempt (every row of
-- pod_spec_write_attempts: allowed or refused, a denied attempt is still someone trying) matches
-- an entry of an image watch-list:
--   list        the list: `malicious_images` or `pentest_images`
--   entry       the list entry that matched, as written in the list
--   image       the image as written in the request: every container, init container and
--               ephemeral container of the pod spec the write carries (`pod_spec`)
--   repository  the image without tag or digest, Docker Hub names shortened (no `docker.io/`,
--               no `library/`)
-- An entry matches as
--   - a repository, under any registry: `metal3d/xmrig` matches `docker.io/metal3d/xmrig`
--   - a prefix ending in `/`: `evil.example.com/`
--   - a keyword without `/`: `xmrig` anywhere in the image's own name (last path component)
WITH images AS (
  SELECT cluster, audit_id, stage_at, user_name, source_ip, user_agent, verb, response_code,
         object_resource, object_namespace, object_name, image, repository
  FROM pod_container_attempts
  WHERE image IS NOT NULL
),
entries AS (
  -- Docker Hub names shortened the same way (entries are not all image references)
  SELECT list, value,
         regexp_replace(value, '^((index\.|registry-1\.)?docker\.io/)?(library/)?', '') AS pattern
  FROM (SELECT 'malicious_images' AS list, value FROM malicious_images
        UNION ALL
        SELECT 'pentest_images' AS list, value FROM pentest_images) l
)
SELECT i.*, e.list, e.value AS entry
FROM images i
JOIN entries e
  ON i.repository = e.pattern
  OR (strpos(e.pattern, '/') > 0 AND ends_with(i.repository, '/' || e.pattern))
  OR (e.pattern LIKE '%/' AND e.pattern <> '/' AND starts_with(i.repository, e.pattern))
  OR (strpos(e.pattern, '/') = 0 AND e.pattern <> ''
      AND strpos(split_part(i.repository, '/', -1), lower(e.pattern)) > 0)
