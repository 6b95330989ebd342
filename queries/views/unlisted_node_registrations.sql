-- One row per request, allowed or refused, to create a Node object whose name matches no entry
-- of `allowed_nodes` (node names; `*` matches any run of characters: `ip-10-0-*.ec2.internal`).
-- A kubelet registers its node this way when a machine joins the cluster. No rows while
-- `allowed_nodes` is empty, so the rules reading this view are off until it is filled.
-- `object_name` falls back on the name in the request body.
SELECT n.*
FROM (
  SELECT cluster, audit_id, stage_at, user_name, source_ip, user_agent, response_code,
         response_reason,
         COALESCE(object_name, json_value(request_object, '$.metadata.name')) AS object_name
  FROM events
  WHERE object_resource = 'nodes'
    AND object_subresource IS NULL
    AND verb = 'create'
    AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
) n
-- node names have no `_` or `%`, so a `*` pattern becomes a LIKE pattern safely
LEFT JOIN allowed_nodes a ON n.object_name LIKE replace(a.value, '*', '%')
WHERE a.value IS NULL
  AND EXISTS (SELECT 1 FROM allowed_nodes)
