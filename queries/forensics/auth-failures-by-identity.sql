-- title: Authentication and authorization failures by identity
-- description: 401s and 403s per identity and source IP: who is guessing or lost a permission.
SELECT user_name, source_ip, failure, count(*) AS requests, min(stage_at) AS first_seen,
       max(stage_at) AS last_seen
FROM auth_failures
GROUP BY user_name, source_ip, failure
ORDER BY requests DESC, user_name
