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
SELECT cluster, audit_id, min(stage_at) AS time, user_name, source_ip, user_agent, verb,
       response_code, object_resource, object_namespace, object_name,
       array_to_string(array_sort(array_agg(DISTINCT image)), ', ') AS images,
       array_to_string(array_sort(array_agg(DISTINCT entry)), ', ') AS list_entries
FROM image_watchlist_matches
WHERE list = 'malicious_images'
GROUP BY cluster, audit_id, user_name, source_ip, user_agent, verb, response_code,
         object_resource, object_namespace, object_name
