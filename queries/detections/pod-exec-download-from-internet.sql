-- id: pod-exec-download-from-internet
-- title: curl or wget to an internet host through pod exec
-- severity: Warning
-- mitre: T1609, T1105
-- tags: execution, exec, download, exfiltration
-- behaviours: 24
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace, object_name, url_host
-- suppress: 30m
-- output: {user_name} ran curl/wget to {url_host} in pod {object_namespace}/{object_name} (container {container}) from {source_ip}: {command}
-- description: An exec session ran curl or wget against a URL on a host outside the cluster.
--   Fetching a script or binary from the internet into a running container is how tooling,
--   miners and second-stage payloads are brought in, and posting to an outside URL is an easy
--   exfiltration path. In-cluster names (*.svc, *.cluster.local, single-label service names),
--   localhost and private or link-local addresses are not reported (cloud metadata has its own
--   rule). Check the URL and what the container did next.

WITH downloads AS (
  SELECT *,
         -- host of the first URL after curl/wget, without userinfo, port or brackets
         lower(btrim(regexp_match(command,
           '(?i)\b(?:curl|wget)\b.*?\b(?:https?|ftps?)://(?:[^/@\s]*@)?(\[[0-9a-fA-F:.]+\]|[^/:\s''"?#]+)')[1],
           '[]')) AS url_host
  FROM exec_sessions
  WHERE command ~* '\b(curl|wget)\b'
)
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       object_namespace,
       object_name,
       container,
       url_host,
       command
FROM downloads
WHERE url_host IS NOT NULL
  AND CASE
        -- an IP literal: only public, routable addresses count as the internet
        WHEN url_host ~ '^[0-9.]+$' OR url_host LIKE '%:%'
          THEN COALESCE(is_public_ip(url_host), false)
        -- a name: single-label names and cluster or local suffixes stay inside
        ELSE url_host LIKE '%.%'
             AND url_host NOT LIKE '%.svc'
             AND url_host NOT LIKE '%.svc.%'
             AND url_host NOT LIKE '%.cluster.local'
             AND url_host NOT LIKE '%.local'
             AND url_host NOT LIKE '%.internal'
             AND url_host NOT LIKE 'localhost.%'
      END
