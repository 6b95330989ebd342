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
SELECT cluster, audit_id, stage_at AS time, user_name, source_ip, user_agent, object_name,
       response_code, response_reason
FROM unlisted_node_registrations
WHERE response_code >= 400
  -- 409 AlreadyExists is a known node's kubelet re-registering after a restart
  AND response_code <> 409
