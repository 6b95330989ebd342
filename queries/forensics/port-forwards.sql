-- title: Port-forwards and proxies into pods and services
-- description: Allowed pods/portforward, pods/proxy and services/proxy requests: tunnels into the
--   cluster network.
SELECT stage_at, cluster, user_name, source_ip, object_resource, object_subresource,
       object_namespace, object_name, audit_id
FROM events_dedup
WHERE ((object_resource = 'pods' AND object_subresource IN ('portforward', 'proxy'))
       OR (object_resource = 'services' AND object_subresource = 'proxy'))
  AND coalesce(response_code, 101) < 400
ORDER BY stage_at
