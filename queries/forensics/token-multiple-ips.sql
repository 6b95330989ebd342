-- title: A credential used from several IPs
-- description: Bound service-account tokens and certificates (the credential ID kube-apiserver
--   records in user.extra) used from more than one source IP: a stolen token replayed elsewhere.
SELECT user_extra['authentication.kubernetes.io/credential-id'][1] AS credential_id,
       user_name, count(DISTINCT source_ip) AS ips, array_agg(DISTINCT source_ip) AS source_ips,
       min(stage_at) AS first_seen, max(stage_at) AS last_seen
FROM events_dedup
WHERE user_extra['authentication.kubernetes.io/credential-id'][1] IS NOT NULL
  AND source_ip IS NOT NULL
GROUP BY 1, user_name
HAVING count(DISTINCT source_ip) > 1
ORDER BY ips DESC, credential_id
