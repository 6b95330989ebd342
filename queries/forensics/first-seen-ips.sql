-- title: Source IPs per identity, first seen
-- description: For each identity (or one), each source IP it used, when first and last, and how
--   many requests. An IP first seen during an incident stands out.
-- param: user (default ''): only this identity; empty for all people and service accounts
SELECT user_name, source_ip, min(stage_at) AS first_seen, max(stage_at) AS last_seen,
       count(*) AS requests
FROM events_dedup
WHERE source_ip IS NOT NULL
  AND ($user = '' OR user_name = $user)
GROUP BY user_name, source_ip
ORDER BY user_name, first_seen
