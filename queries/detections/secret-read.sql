-- id: secret-read
-- title: Secret read by a user
-- severity: Notice
-- mitre: T1552.007
-- tags: credential-access, secrets
-- behaviours: 79
-- equivalents: K8s Secret Get Successfully
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace, object_name
-- suppress: 1h
-- output: {user_name} read secret {object_namespace}/{object_name} from {source_ip} with {user_agent}
-- description: A user (a person or an external credential, not a service account, node or
--   control-plane component) read the contents of a secret. Secrets hold passwords, API keys,
--   TLS keys and service-account tokens; every read by a person is worth a trace, and reads of
--   secrets the person has no reason to need are how credentials leave the cluster. Reads by
--   service accounts and nodes have their own rule.

SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       user_groups,
       source_ip,
       user_agent,
       object_namespace,
       object_name
FROM events
WHERE object_resource = 'secrets'
  AND object_subresource IS NULL
  AND verb = 'get'
  AND COALESCE(stage, 'ResponseComplete') = 'ResponseComplete'
  AND response_code BETWEEN 200 AND 299
  -- service accounts, nodes, the control plane and anonymous are all system:*
  AND COALESCE(user_name, '') NOT LIKE 'system:%'
  AND COALESCE(user_name, '') NOT LIKE 'eks:%'
  AND COALESCE(user_name, '') <> 'aksService'
  AND NOT in_list(COALESCE(user_name, ''), 'known_controllers')
