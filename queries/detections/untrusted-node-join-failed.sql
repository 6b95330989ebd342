-- id: untrusted-node-join-failed
-- title: Node outside the allowed list failed to join the cluster
-- severity: Warning
-- mitre: T1078
-- tags: persistence, initial-access, node
-- behaviours: 51
-- equivalents: Untrusted Node Unsuccessfully Tried to Join the Cluster
-- level: Metadata
-- mode: event
-- dedup: cluster, object_name
-- suppress: 1h
-- output: Node {object_name} outside allowed_nodes failed to register (response {response_code} {response_reason}) as {user_name} from {source_ip}
-- description: A request to create a Node object whose name is not in `allowed_nodes` was refused.
--   Someone tried to join a machine to the cluster with a credential that is not, or no longer,
--   allowed to register that node: a leftover bootstrap token being tried, or a stolen kubelet
--   certificate used for another name. Entries are node names, `*` matching any run of characters
--   (`ip-10-0-*.ec2.internal`). The rule is off while `allowed_nodes` is empty.
SELECT n.cluster, n.audit_id, n.stage_at AS time, n.user_name, n.source_ip, n.user_agent,
       n.object_name, n.response_code, n.response_reason
FROM (
  SELECT cluster, audit_id, stage_at, user_name, source_ip, user_agent, response_code,
         response_reason,
         COALESCE(object_name, json_value(request_object, '$.metadata.name')) AS object_name
  FROM events
  WHERE object_resource = 'nodes'
    AND object_subresource IS NULL
    AND verb = 'create'
    AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
    AND response_code >= 400
    -- 409 AlreadyExists is a known node's kubelet re-registering after a restart
    AND response_code <> 409
) n
-- node names have no `_` or `%`, so a `*` pattern becomes a LIKE pattern safely
LEFT JOIN allowed_nodes a ON n.object_name LIKE replace(a.value, '*', '%')
WHERE a.value IS NULL
  -- an empty allowed_nodes list turns the rule off
  AND EXISTS (SELECT 1 FROM allowed_nodes)
