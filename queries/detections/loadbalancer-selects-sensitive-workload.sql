-- id: loadbalancer-selects-sensitive-workload
-- title: Public load balancer in front of a sensitive workload
-- severity: Warning
-- mitre: T1133, T1190
-- tags: network, exposure, services, workloads
-- behaviours: 76
-- level: Request
-- mode: sequence
-- window: 30d
-- filter: COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND response_code BETWEEN 200 AND 299
--   AND verb IN ('create', 'update', 'patch')
--   AND object_subresource IS NULL
--   AND request_object IS NOT NULL
--   AND (
--     (object_resource = 'services' AND request_object LIKE '%LoadBalancer%')
--     OR object_resource IN ('deployments', 'statefulsets', 'daemonsets')
--     OR (object_resource = 'pods' AND request_object NOT LIKE '%"ownerReferences"%')
--   )
-- bodies: request_object($.metadata.labels,
--   $.metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-internal"],
--   $.metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"],
--   $.metadata.annotations["service.beta.kubernetes.io/azure-load-balancer-internal"],
--   $.metadata.annotations["networking.gke.io/load-balancer-type"],
--   $.metadata.annotations["cloud.google.com/load-balancer-type"],
--   $.metadata.annotations["service.beta.kubernetes.io/oci-load-balancer-internal"],
--   $.spec.type, $.spec.selector, $.spec.loadBalancerSourceRanges, $.spec.containers,
--   $.spec.template.metadata.labels, $.spec.template.spec.containers)
-- dedup: cluster, namespace, service, workload
-- suppress: 1d
-- output: LoadBalancer service {namespace}/{service} (by {service_user}, open to {allowed_from}) selects {workload_kind} {workload} running {images}
-- description: A Service of type LoadBalancer that is not internal and not restricted by
--   source ranges selects the pods of a workload whose image is an admin dashboard or data
--   store (Kubernetes or Kubeflow dashboard, Jupyter, Redis, PostgreSQL, MongoDB,
--   Elasticsearch...). Unlike a check of the service alone, this follows the selector to the
--   pods it publishes, whatever the service is called and whichever ports it uses. Exposed
--   dashboards and data stores are found by internet scanners within hours.

-- The service and the workload may be created in either order (Helm creates services
-- first); an alert is raised when the second of the two arrives. A workload matches when
-- every key of the service's selector has the same value in the workload's pod labels.
-- Pods made by controllers (with ownerReferences) are represented by their controller.
WITH open_lb AS (
    -- the window keeps only successful writes, as internet_facing_load_balancers does
    SELECT cluster,
           audit_id,
           user_name,
           object_namespace AS namespace,
           object_name AS service,
           json_get_json(request_object, 'spec', 'selector') AS selector,
           source_ranges
    FROM internet_facing_load_balancers
    WHERE json_value(request_object, '$.spec.selector') IS NOT NULL
),
selector_keys AS (
    SELECT audit_id, selector, unnest(json_object_keys(selector)) AS label
    FROM open_lb
),
workloads AS (
    SELECT cluster,
           audit_id,
           object_resource AS workload_kind,
           object_namespace AS namespace,
           object_name AS workload,
           -- pod template labels of a controller, or a bare pod's own labels
           COALESCE(json_get_json(request_object, 'spec', 'template', 'metadata', 'labels'),
                    json_get_json(request_object, 'metadata', 'labels')) AS labels,
           array_concat(json_values(request_object, '$.spec.containers[*].image'),
                        json_values(request_object, '$.spec.template.spec.containers[*].image')) AS images
    FROM events
    WHERE object_resource IN ('deployments', 'statefulsets', 'daemonsets', 'pods')
),
sensitive AS (
    -- workloads with at least one container image of a sensitive application
    SELECT DISTINCT w.audit_id
    FROM (SELECT audit_id, unnest(images) AS image FROM workloads) w
    JOIN sensitive_apps a ON lower(image_repository(w.image)) LIKE a.value
),
selected AS (
    -- (service, workload) pairs where every selector key matches a pod label
    SELECT k.audit_id AS service_audit_id,
           w.audit_id AS workload_audit_id
    FROM selector_keys k
    JOIN open_lb o ON o.audit_id = k.audit_id
    JOIN workloads w ON w.cluster = o.cluster AND w.namespace = o.namespace
    JOIN sensitive s ON s.audit_id = w.audit_id
    GROUP BY k.audit_id, w.audit_id
    HAVING count(*) = count(*) FILTER (WHERE json_get_str(w.labels, k.label) = json_get_str(k.selector, k.label))
)
SELECT o.cluster,
       make_array(o.audit_id, w.audit_id) AS audit_ids,
       o.namespace,
       o.service,
       o.user_name AS service_user,
       CASE WHEN cardinality(o.source_ranges) = 0 THEN 'the internet (no source ranges)'
            ELSE array_to_string(o.source_ranges, ', ')
       END AS allowed_from,
       w.workload_kind,
       w.workload,
       array_to_string(array_distinct(w.images), ', ') AS images
FROM selected p
JOIN open_lb o ON o.audit_id = p.service_audit_id
JOIN workloads w ON w.audit_id = p.workload_audit_id
-- report the pair when one of its two events is new
LEFT JOIN (SELECT DISTINCT audit_id FROM new_events) new_service ON new_service.audit_id = o.audit_id
LEFT JOIN (SELECT DISTINCT audit_id FROM new_events) new_workload ON new_workload.audit_id = w.audit_id
WHERE new_service.audit_id IS NOT NULL
   OR new_workload.audit_id IS NOT NULL
