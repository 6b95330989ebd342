-- Who read the most secrets (get, list, watch of secrets).
SELECT user_name, count(*) AS reads FROM events
WHERE object_resource = 'secrets' AND verb IN ('get', 'list', 'watch')
GROUP BY user_name ORDER BY reads DESC, user_name LIMIT 20
