-- title: Who touched this object
-- description: Every request on one object (one row per request, most complete stage), oldest
--   first: who, from where, what, and the answer.
-- param: resource: plural resource, e.g. secrets, pods, deployments
-- param: name: object name
-- param: namespace (default ''): namespace; empty for cluster-scoped objects or any namespace
SELECT stage_at, cluster, user_name, impersonated_user_name, source_ip, verb,
       object_resource, object_subresource, object_namespace, object_name, response_code, audit_id
FROM events_dedup
WHERE object_resource = $resource
  AND object_name = $name
  AND ($namespace = '' OR object_namespace = $namespace)
ORDER BY stage_at, audit_id
