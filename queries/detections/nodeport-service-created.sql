-- id: nodeport-service-created
-- title: Service exposed through a NodePort
-- severity: Warning
-- mitre: T1133, T1190
-- tags: network, exposure, services
-- behaviours: 75
-- equivalents: Create NodePort Service | Kubernetes.Service.NodePort.Deployed
-- level: Request
-- mode: event
-- dedup: cluster, object_namespace, object_name
-- suppress: 1d
-- output: {user_name} {verb} service {object_namespace}/{object_name} as NodePort (ports {ports}, node ports {node_ports}, selector {selector}) from {source_ip}
-- description: A Service of type NodePort was created, or an existing Service was switched to
--   it. A NodePort opens the port on every node of the cluster, bypassing the ingress
--   controller, load-balancer rules and usually the network policies meant to protect the
--   workload; anything that can reach a node can reach the service. Attackers use it to
--   publish a backdoor. List services meant to be exposed this way in
--   allowed_nodeport_services (namespace/name).

-- The type is read from the request body: a patch that does not mention spec.type does not
-- change it and is not reported.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       object_namespace,
       object_name,
       COALESCE(NULLIF(array_to_string(json_values(request_object, '$.spec.ports[*].port'), ', '), ''), 'unchanged') AS ports,
       -- node ports the client chose, else those the API server assigned (RequestResponse)
       COALESCE(NULLIF(array_to_string(json_values(request_object, '$.spec.ports[*].nodePort'), ', '), ''),
                NULLIF(array_to_string(json_values(response_object, '$.spec.ports[*].nodePort'), ', '), ''),
                'assigned by the cluster') AS node_ports,
       COALESCE(json_value(request_object, '$.spec.selector'), 'unchanged') AS selector,
       response_code
FROM events
WHERE COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND object_resource = 'services'
  AND object_subresource IS NULL
  AND verb IN ('create', 'update', 'patch')
  AND response_code BETWEEN 200 AND 299
  AND json_value(request_object, '$.spec.type') = 'NodePort'
  AND NOT in_list(concat_ws('/', object_namespace, object_name), 'allowed_nodeport_services')
