-- title: Anonymous access
-- description: Requests made without credentials (system:anonymous) that were answered without an
--   error, by path.
SELECT request_uri, verb, count(*) AS requests, min(stage_at) AS first_seen,
       max(stage_at) AS last_seen, array_agg(DISTINCT source_ip) AS source_ips
FROM events_dedup
WHERE user_name = 'system:anonymous'
  AND response_code BETWEEN 200 AND 399
GROUP BY request_uri, verb
ORDER BY requests DESC, request_uri
