-- One row per successful create, update or patch of a Service of type LoadBalancer that the
-- internet can reach: not an internal load balancer of a common cloud provider (annotations of
-- AWS, Azure, GKE and OCI), and with no loadBalancerSourceRanges or a range that is the whole
-- internet (0.0.0.0/0, ::/0). Needs the request body (Request level).
--   source_ranges  the service's loadBalancerSourceRanges (empty: none)
SELECT *
FROM (
  SELECT cluster,
         audit_id,
         stage_at,
         user_name,
         source_ip,
         user_agent,
         verb,
         object_namespace,
         object_name,
         request_object,
         json_values(request_object, '$.spec.loadBalancerSourceRanges[*]') AS source_ranges
  FROM events
  WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
    AND object_resource = 'services'
    AND object_subresource IS NULL
    AND verb IN ('create', 'update', 'patch')
    AND response_code BETWEEN 200 AND 299
    AND json_value(request_object, '$.spec.type') = 'LoadBalancer'
    -- internal load balancers of the common cloud providers
    AND COALESCE(json_value(request_object, '$.metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-internal"]'), 'false') IN ('false', '')
    AND COALESCE(json_value(request_object, '$.metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"]'), '') <> 'internal'
    AND COALESCE(json_value(request_object, '$.metadata.annotations["service.beta.kubernetes.io/azure-load-balancer-internal"]'), 'false') <> 'true'
    AND COALESCE(lower(json_value(request_object, '$.metadata.annotations["networking.gke.io/load-balancer-type"]')), '') <> 'internal'
    AND COALESCE(lower(json_value(request_object, '$.metadata.annotations["cloud.google.com/load-balancer-type"]')), '') <> 'internal'
    AND COALESCE(json_value(request_object, '$.metadata.annotations["service.beta.kubernetes.io/oci-load-balancer-internal"]'), 'false') <> 'true'
) lb
-- no source ranges, or ranges that include the whole internet
WHERE cardinality(source_ranges) = 0
   OR array_has(source_ranges, '0.0.0.0/0')
   OR array_has(source_ranges, '::/0')
