-- id: untrusted-node-joined
-- title: Node outside the allowed list joined the cluster
-- severity: Error
-- mitre: T1078
-- tags: persistence, initial-access, node
-- behaviours: 51
-- equivalents: Untrusted Node Successfully Joined the Cluster
-- level: Metadata
-- mode: event
-- dedup: cluster, object_name
-- suppress: 1h
-- output: Node {object_name} outside allowed_nodes was registered by {user_name} from {source_ip}
-- description: A Node object whose name is not in `allowed_nodes` was created: a new machine joined
--   the cluster. The scheduler starts putting pods, and their secrets, on it at once. An intruder
--   who holds a bootstrap token or a kubelet credential can join a machine of their own to collect
--   workloads' secrets and service-account tokens. Entries are node names, `*` matching any run of
--   characters (`ip-10-0-*.ec2.internal`). The rule is off while `allowed_nodes` is empty.
SELECT cluster, audit_id, stage_at AS time, user_name, source_ip, user_agent, object_name,
       response_code, response_reason
FROM unlisted_node_registrations
WHERE response_code BETWEEN 200 AND 299
