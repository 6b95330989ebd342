-- title: Who read a secret
-- description: Every identity that read one Secret (get, or list or watch of its namespace) and
--   was allowed, with how often and when first and last.
-- param: name: secret name
-- param: namespace: its namespace
SELECT user_name, count(*) AS reads, min(stage_at) AS first_read, max(stage_at) AS last_read,
       array_agg(DISTINCT verb) AS verbs
FROM secret_access
WHERE allowed
  AND object_namespace = $namespace
  AND ((verb = 'get' AND object_name = $name)
       OR (verb IN ('list', 'watch') AND object_name IS NULL))
GROUP BY user_name
ORDER BY reads DESC, user_name
