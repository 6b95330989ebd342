-- id: node-writes-pod-of-another-node
-- title: Node credential used on a pod scheduled to a different node
-- severity: Warning
-- mitre: T1078.001, T1550
-- tags: privilege-escalation, lateral-movement, node, sequence
-- behaviours: 98
-- level: Request
-- mode: sequence
-- window: 14d
-- filter: object_resource = 'pods'
--   AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
--   AND (
--     (object_subresource = 'binding' AND verb = 'create' AND response_code BETWEEN 200 AND 299)
--     OR (object_subresource IS NULL AND verb = 'create' AND response_code BETWEEN 200 AND 299
--         AND json_value(request_object, '$.spec.nodeName') IS NOT NULL)
--     OR (user_name LIKE 'system:node:%' AND verb IN ('update', 'patch', 'delete')
--         AND (response_code BETWEEN 200 AND 299 OR response_code = 403))
--   )
-- bodies: request_object($.metadata.name, $.target.name, $.spec.nodeName),
--   response_object($.metadata.name)
-- dedup: cluster, user_name, object_namespace, object_name
-- suppress: 1h
-- output: {user_name} ({outcome}) {verb} pod {object_namespace}/{object_name}{sub} which is scheduled to node {bound_node}, from {source_ip} ({user_agent})
-- description: A kubelet identity (system:node:X) changed or deleted a pod that the scheduler
--   placed on another node. A kubelet only ever writes the pods bound to its own node, and the
--   NodeRestriction admission plugin is meant to enforce that; a write to a foreign pod means a
--   stolen node certificate used from elsewhere, a bypass of node restrictions, or an attacker
--   pivoting from a compromised node to tamper with workloads on other nodes. Attempts refused
--   with 403 are reported too. Placement comes from the scheduler's binding and from pods
--   created with spec.nodeName (static/mirror pods) seen in the last 14 days; pods placed
--   earlier are not judged. Needs the Request level for pods/binding.
WITH placements AS (
  SELECT cluster,
         audit_id,
         COALESCE(stage_at, request_received_at) AS t,
         object_namespace AS ns,
         COALESCE(NULLIF(object_name, ''),
                  json_value(response_object, '$.metadata.name'),
                  json_value(request_object, '$.metadata.name')) AS pod,
         CASE WHEN object_subresource = 'binding'
              THEN json_value(request_object, '$.target.name')
              ELSE json_value(request_object, '$.spec.nodeName') END AS node
  FROM events
  WHERE verb = 'create'
    AND (object_subresource = 'binding' OR object_subresource IS NULL)
),
node_writes AS (
  SELECT cluster,
         audit_id,
         COALESCE(stage_at, request_received_at) AS t,
         user_name,
         substr(user_name, length('system:node:') + 1) AS acting_node,
         source_ip,
         user_agent,
         verb,
         object_namespace,
         object_name,
         object_subresource,
         response_code
  FROM new_events
  WHERE user_name LIKE 'system:node:%'
    AND verb IN ('update', 'patch', 'delete')
),
-- the latest placement of that pod name before the write (StatefulSet pods reuse names)
latest AS (
  SELECT w.*,
         p.node AS bound_node,
         p.audit_id AS placement_audit_id,
         row_number() OVER (PARTITION BY w.audit_id ORDER BY p.t DESC) AS rn
  FROM node_writes w
  JOIN placements p
    ON p.cluster = w.cluster
   AND p.ns = w.object_namespace
   AND p.pod = w.object_name
   AND p.t <= w.t
)
SELECT cluster,
       [placement_audit_id, audit_id] AS audit_ids,
       t AS time,
       user_name,
       source_ip,
       user_agent,
       verb,
       object_namespace,
       object_name,
       object_subresource,
       response_code,
       COALESCE('/' || object_subresource, '') AS sub,
       CASE WHEN response_code = 403 THEN 'refused' ELSE 'allowed' END AS outcome,
       acting_node,
       bound_node
FROM latest
WHERE rn = 1
  AND bound_node IS NOT NULL
  AND bound_node <> acting_node
