-- id: malicious-image-deployed
-- title: Known malicious or cryptomining image deployed
-- severity: Critical
-- mitre: T1204.003, T1496
-- tags: execution, impact, threat-intel, workload
-- behaviours: 44
-- level: Request
-- mode: event
-- dedup: cluster, user_name, object_namespace, images
-- suppress: 1h
-- output: {user_name} wrote {object_resource} {object_namespace}/{object_name} with image(s) {images} listed in malicious_images (response {response_code}) from {source_ip} with {user_agent}
-- description: A pod or workload uses an image listed in `malicious_images`: cryptominers,
--   backdoored images and other images from threat intelligence. Running one means the cluster is
--   already being abused (resource hijacking) or an intruder is installing tools. Attempts that
--   were denied are reported too, with their response code: someone holding credentials tried.
--   Entries are repositories (`metal3d/xmrig`, also matched under any registry), a prefix ending in
--   `/` (`evil.example.com/`), or a bare keyword (`xmrig`) matched inside the image name.
WITH writes AS (
  -- every attempt, allowed or not, to create a pod, add debug containers, or write a workload
  SELECT cluster, audit_id, stage_at, user_name, source_ip, user_agent, verb, response_code,
         object_resource, object_namespace,
         COALESCE(object_name,
                  json_value(response_object, '$.metadata.name'),
                  json_value(request_object, '$.metadata.generateName')) AS object_name,
         -- containers wherever the object keeps them (pod spec, pod template, job template)
         json_values(request_object, '$..["containers","initContainers","ephemeralContainers"][*].image')
           AS images_written
  FROM events
  WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
    AND (
          (object_resource = 'pods' AND object_subresource IS NULL AND verb = 'create')
       OR (object_resource = 'pods' AND object_subresource = 'ephemeralcontainers'
           AND verb IN ('update', 'patch'))
       OR (object_resource IN ('deployments', 'daemonsets', 'statefulsets', 'replicasets',
                               'jobs', 'cronjobs')
           AND object_subresource IS NULL
           AND verb IN ('create', 'update', 'patch'))
    )
),
images AS (
  SELECT w.*,
         -- Docker Hub names compare without `docker.io/` and `library/`
         regexp_replace(image_repository(image), '^((index\.|registry-1\.)?docker\.io/)?(library/)?', '')
           AS repository
  FROM (SELECT writes.*, unnest(images_written) AS image FROM writes) w
),
listed AS (
  SELECT i.*, l.value AS entry
  FROM images i
  JOIN (SELECT value,
               regexp_replace(value, '^((index\.|registry-1\.)?docker\.io/)?(library/)?', '') AS entry
        FROM malicious_images) l
    -- a repository, under any registry: `metal3d/xmrig` matches `docker.io/metal3d/xmrig`
    ON i.repository = l.entry
    OR (strpos(l.entry, '/') > 0 AND ends_with(i.repository, '/' || l.entry))
       -- a prefix: `evil.example.com/`
    OR (l.entry LIKE '%/' AND l.entry <> '/' AND starts_with(i.repository, l.entry))
       -- a keyword: `xmrig` anywhere in the image's own name (the last path component)
    OR (strpos(l.entry, '/') = 0 AND l.entry <> ''
        AND strpos(split_part(i.repository, '/', -1), lower(l.entry)) > 0)
)
SELECT cluster, audit_id, min(stage_at) AS time, user_name, source_ip, user_agent, verb,
       response_code, object_resource, object_namespace, object_name,
       array_to_string(array_sort(array_agg(DISTINCT image)), ', ') AS images,
       array_to_string(array_sort(array_agg(DISTINCT entry)), ', ') AS list_entries
FROM listed
GROUP BY cluster, audit_id, user_name, source_ip, user_agent, verb, response_code,
         object_resource, object_namespace, object_name
