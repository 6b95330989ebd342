-- id: loadbalancer-exposes-sensitive-service
-- title: Sensitive service exposed through a public load balancer
-- severity: Warning
-- mitre: T1133, T1190
-- tags: network, exposure, services
-- behaviours: 76
-- level: Request
-- mode: event
-- dedup: cluster, object_namespace, object_name
-- suppress: 1d
-- output: {user_name} {verb} LoadBalancer service {object_namespace}/{object_name} open to {allowed_from}, exposing {exposes} (ports {ports})
-- description: A Service of type LoadBalancer without an internal-only annotation and without
--   source ranges that restrict it was created or changed, and its ports or name/selector
--   point at something that must not face the internet: a Kubernetes or Kubeflow dashboard,
--   Jupyter, Redis, PostgreSQL, MongoDB, Elasticsearch, etcd, the kubelet port. Exposed
--   dashboards and data stores are found by internet scanners within hours. Restrict
--   spec.loadBalancerSourceRanges, make the load balancer internal, or put the application
--   behind an authenticating ingress.

-- Ports are matched against sensitive_service_ports (port and targetPort), the service
-- name, selector and labels against the LIKE patterns of sensitive_apps.
WITH open_lb AS (
    SELECT *,
           array_concat(json_values(request_object, '$.spec.ports[*].port'),
                        json_values(request_object, '$.spec.ports[*].targetPort')) AS ports,
           lower(concat_ws(' ', object_name,
                           json_value(request_object, '$.spec.selector'),
                           json_value(request_object, '$.metadata.labels'))) AS identity
    FROM internet_facing_load_balancers
),
hits AS (
    SELECT o.audit_id, 'port ' || p.value AS why
    FROM open_lb o
    JOIN sensitive_service_ports p ON array_has(o.ports, p.value)
    UNION ALL
    SELECT o.audit_id, 'application ' || btrim(a.value, '%') AS why
    FROM open_lb o
    JOIN sensitive_apps a ON o.identity LIKE a.value
)
SELECT o.cluster,
       o.audit_id,
       o.stage_at AS time,
       o.user_name,
       o.source_ip,
       o.user_agent,
       o.verb,
       o.object_namespace,
       o.object_name,
       array_to_string(array_distinct(o.ports), ', ') AS ports,
       CASE WHEN cardinality(o.source_ranges) = 0 THEN 'the internet (no source ranges)'
            ELSE array_to_string(o.source_ranges, ', ')
       END AS allowed_from,
       array_to_string(array_sort(array_agg(DISTINCT h.why)), ', ') AS exposes
FROM open_lb o
JOIN hits h ON h.audit_id = o.audit_id
GROUP BY o.cluster, o.audit_id, o.stage_at, o.user_name, o.source_ip, o.user_agent, o.verb,
         o.object_namespace, o.object_name, o.ports, o.source_ranges
