-- title: Top secret readers
-- description: Identities by the number of distinct secrets they read (get) and allowed, outside
--   the cluster's own components.
-- param: limit (default '20'): how many identities
SELECT user_name, count(DISTINCT object_namespace || '/' || object_name) AS secrets,
       count(*) AS reads
FROM secret_access
WHERE allowed AND verb = 'get'
  AND user_name NOT LIKE 'system:node:%'
  AND user_name NOT LIKE 'system:serviceaccount:kube-system:%'
  AND user_name NOT IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver')
GROUP BY user_name
ORDER BY secrets DESC, reads DESC, user_name
LIMIT CAST($limit AS BIGINT)
